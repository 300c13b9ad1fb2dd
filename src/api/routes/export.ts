import type { FastifyInstance } from 'fastify';
import type { ServiceContext } from '../../services/context.ts';
import { EXPORT_FORMAT, exportSeat } from '../../services/export.ts';
import { defineRoute } from '../route.ts';
import { IdParams } from '../schemas.ts';

/** API.md "Seat mailbox": the R-71 export, streamed as a `.zip`. */
export function exportRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  defineRoute(
    app,
    {
      method: 'GET', url: '/api/v1/seats/{id}/export', tags: ['Seat mailbox'], auth: 'caller', params: IdParams,
      summary:
        'Export the messages the seat owns that its current holder may see (R-71, filtered by R-60 … R-63); only the holder may call it, signed in or acted as by an integration, and the audit entry names who did. ' +
        'Streamed as a download (`Content-Type: application/zip`, `Content-Disposition: attachment; filename="recruiter-sync-export-<seat>.zip"`, `X-Export-Messages: <count>`). ' +
        `The archive holds \`messages/<id>.eml\`, one RFC 5322 file per message, and \`messages.json\`: \`{format: "${EXPORT_FORMAT}", seat: {id, contractId, userId}, exportedAt, messages: [{id, threadId, providerThreadId, candidateId, direction, from, fromName, to, cc, subject, sentAt, messageId, inReplyTo, references, snippet, bodyHtml, bodyText, visibility, origin, attachments: [{filename, contentType, sizeBytes}], emlFile}]}\`. ` +
        'The original MIME is not stored (only what is shown is kept, R-41), so each `.eml` is rebuilt from the stored headers, threading and bodies; attachment contents are not stored and are listed only',
      errors: ['email_disabled'],
    },
    async ({ actor, params, reply }) => {
      const archive = await exportSeat(ctx, actor, params.id);
      await reply
        .status(200)
        .header('content-type', 'application/zip')
        .header('content-disposition', `attachment; filename="recruiter-sync-export-${archive.seatId}.zip"`)
        .header('x-export-messages', String(archive.messageCount))
        .header('cache-control', 'private, no-store')
        .send(archive.stream);
      return undefined;
    },
  );
}
