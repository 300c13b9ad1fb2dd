import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ServiceContext } from '../../services/context.ts';
import { exportSeat } from '../../services/export.ts';
import { defineRoute } from '../route.ts';
import { Id, IdParams, Timestamp } from '../schemas.ts';

const ExportedMessage = z.object({
  id: Id,
  threadId: Id,
  providerThreadId: z.string(),
  candidateId: Id.nullable(),
  direction: z.enum(['inbound', 'outbound']),
  from: z.string(),
  fromName: z.string().nullable(),
  to: z.array(z.string()),
  cc: z.array(z.string()),
  subject: z.string(),
  sentAt: Timestamp,
  messageId: z.string().nullable().describe('RFC 5322 Message-ID'),
  inReplyTo: z.string().nullable(),
  references: z.array(z.string()),
  snippet: z.string(),
  bodyHtml: z.string().nullable().describe('Sanitised HTML'),
  bodyText: z.string().nullable(),
  visibility: z.enum(['private', 'contract']),
  origin: z.enum(['synced', 'sent_from_product']),
  attachments: z.array(z.object({ filename: z.string(), contentType: z.string(), sizeBytes: z.number().int() })).describe('Attachment metadata (contents are not stored)'),
  eml: z.string().describe('The message as RFC 5322 (.eml), base64, rebuilt from the stored fields'),
});

/** API.md "Seat mailbox": the R-71 export. */
export function exportRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  defineRoute(
    app,
    {
      method: 'GET', url: '/api/v1/seats/{id}/export', tags: ['Seat mailbox'], auth: 'caller', params: IdParams,
      summary:
        'Export the messages the seat owns that its current holder may see (R-71, filtered by R-60 … R-63); only the holder may call it, signed in or acted as by an integration, and the audit entry names who did. ' +
        'Served as a download (`Content-Disposition: attachment; filename="recruiter-sync-export-<seat>.json"`): ' +
        '`{format: "recruiter-sync-export/1", seat, exportedAt, messages: [{…fields, eml}]}`, where `eml` is the message as a base64 RFC 5322 file',
      response: z.object({
        format: z.literal('recruiter-sync-export/1'),
        seat: z.object({ id: Id, contractId: Id, userId: Id }),
        exportedAt: Timestamp,
        messages: z.array(ExportedMessage),
      }),
      errors: ['email_disabled'],
    },
    async ({ actor, params, reply }) => {
      const archive = await exportSeat(ctx, actor, params.id);
      void reply.header('content-disposition', `attachment; filename="recruiter-sync-export-${archive.seat.id}.json"`);
      return archive;
    },
  );
}
