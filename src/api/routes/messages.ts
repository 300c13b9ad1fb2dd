import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { forbidden } from '../../errors.ts';
import type { ServiceContext } from '../../services/context.ts';
import type { MailboxDeps } from '../../services/mailbox-authorization.ts';
import { messageImage, type ImageProxyOptions } from '../../services/image-proxy.ts';
import { downloadAttachment, getMessage, listCandidateMessages, messagePreviews, setMessageVisibility, setThreadVisibility } from '../../services/messages.ts';
import { defineRoute } from '../route.ts';
import { Id, IdParams, Timestamp } from '../schemas.ts';

const Visibility = z.enum(['private', 'contract']);
export const MessageSchema = z.object({
  id: Id,
  threadId: Id,
  candidateId: Id.nullable(),
  direction: z.enum(['inbound', 'outbound']),
  from: z.string().describe('Sender address'),
  fromName: z.string().nullable(),
  to: z.array(z.string()),
  cc: z.array(z.string()),
  subject: z.string(),
  sentAt: Timestamp,
  snippet: z.string(),
  bodyHtml: z.string().nullable().describe('Sanitised HTML: safe to render'),
  bodyText: z.string().nullable(),
  visibility: Visibility,
  origin: z.enum(['synced', 'sent_from_product']),
  ownerSeatId: Id,
  isOwner: z.boolean().describe('Whether the caller may change this message’s visibility (R-61)'),
  attachments: z
    .array(z.object({ id: Id, filename: z.string(), contentType: z.string(), sizeBytes: z.number().int() }))
    .describe('Attachments as synced (metadata); download one with GET /api/v1/messages/{id}/attachments/{attachmentId}'),
});

/**
 * A name safe in a Content-Disposition header: no quotes, backslashes, control characters or path separators in the
 * ASCII fallback, and the exact name (RFC 5987) for clients that read `filename*`.
 */
export function contentDisposition(filename: string): string {
  const printable = Array.from(filename).filter((c) => c.charCodeAt(0) >= 0x20 && c.charCodeAt(0) !== 0x7f).join('');
  const name = printable.replace(/[/\\]/g, '_').trim() || 'attachment';
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["%;]/g, '_');
  const exact = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${exact}`;
}

/** A type from the mail, kept only when it is a plain `type/subtype` (anything else would be untrusted header text). */
const safeContentType = (value: string): string => (/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/i.test(value.trim()) ? value.trim().toLowerCase() : 'application/octet-stream');

/**
 * API.md "Messages": one attachment, for whoever may see its message (the same predicate as message reads). Its
 * bytes come from the sender, so they are never rendered by the product's origin: always a download, no sniffing,
 * and a policy that would leave it inert should a browser show it anyway.
 */
export function attachmentRoutes(app: FastifyInstance, deps: MailboxDeps): void {
  defineRoute(
    app,
    {
      method: 'GET', url: '/api/v1/messages/{id}/attachments/{attachmentId}', tags: ['Messages'], auth: 'caller',
      params: z.object({ id: Id, attachmentId: Id }),
      summary:
        'Download one attachment of a message visible to the caller (R-60 … R-63); a message the caller may not see has no attachments for them. ' +
        'Read from the mailbox the message was synced from. Served as `Content-Disposition: attachment` with the stored type and `X-Content-Type-Options: nosniff`',
      errors: ['email_disabled', 'not_authorized', 'needs_reauthorization', 'rate_limited', 'provider_unavailable'],
    },
    async ({ actor, params, reply }) => {
      const file = await downloadAttachment(deps, actor, params.id, params.attachmentId);
      await reply
        .status(200)
        .header('content-type', safeContentType(file.contentType))
        .header('content-disposition', contentDisposition(file.filename))
        .header('x-content-type-options', 'nosniff')
        .header('content-security-policy', "default-src 'none'; sandbox")
        .header('cache-control', 'private, no-store')
        .send(Buffer.from(file.content));
      return undefined;
    },
  );
}

/**
 * "Show images": one remote image of a message, fetched by the product for a caller who may see the message and
 * only when the message's stored HTML holds its address (src/services/image-proxy.ts guards the fetch). The bytes
 * come from the sender's server: served only as a checked raster type, inert and private to the caller.
 */
export function messageImageRoutes(app: FastifyInstance, ctx: ServiceContext, options: ImageProxyOptions): void {
  defineRoute(
    app,
    {
      method: 'GET', url: '/api/v1/messages/{id}/images', tags: ['Messages'], auth: 'caller', params: IdParams,
      query: z.object({ url: z.string().min(1).max(4096).describe('A remote image address as the message HTML holds it (`data-remote-src`)') }),
      summary:
        'A remote image of a message visible to the caller (R-60 … R-63), fetched by the product so the sender never reaches the reader. ' +
        'Only addresses in the message HTML, only public internet hosts, at most 5 MiB, PNG, JPEG, GIF, WebP, AVIF or BMP',
      errors: ['email_disabled', 'forbidden', 'provider_unavailable'],
    },
    async ({ actor, params, query, reply }) => {
      const image = await messageImage(ctx, options, actor, params.id, query.url);
      await reply
        .status(200)
        .header('content-type', image.contentType)
        .header('x-content-type-options', 'nosniff')
        .header('content-security-policy', "default-src 'none'; sandbox")
        .header('cross-origin-resource-policy', 'same-origin')
        .header('cache-control', 'private, max-age=3600')
        .send(image.body);
      return undefined;
    },
  );
}

/** API.md "Messages": reading synced mail and sharing it, always filtered by R-60 … R-63. */
export function messageRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const tags = ['Messages'];
  defineRoute(
    app,
    {
      method: 'GET', url: '/api/v1/candidates/{id}/messages', tags, auth: 'caller', params: IdParams,
      summary: "The candidate's threads and messages visible to the caller (R-60 … R-63), newest thread first",
      response: z.array(z.object({ threadId: Id, subject: z.string(), lastActivityAt: Timestamp, visibility: Visibility, messages: z.array(MessageSchema) })),
      errors: ['email_disabled'],
    },
    ({ actor, params }) => listCandidateMessages(ctx, actor, params.id),
  );
  defineRoute(
    app,
    { method: 'GET', url: '/api/v1/messages/{id}', tags, auth: 'caller', params: IdParams, summary: 'One message visible to the caller', response: MessageSchema, errors: ['email_disabled'] },
    ({ actor, params }) => getMessage(ctx, actor, params.id),
  );
  defineRoute(
    app,
    {
      method: 'PATCH', url: '/api/v1/messages/{id}', tags, auth: 'caller', params: IdParams, body: z.strictObject({ visibility: Visibility }),
      summary: "Share a message with the contract or make it private again (owner only, R-61)", response: MessageSchema,
    },
    ({ actor, params, body }) => setMessageVisibility(ctx, actor, params.id, body.visibility),
  );
  defineRoute(
    app,
    {
      method: 'PATCH', url: '/api/v1/threads/{id}', tags, auth: 'caller', params: IdParams, body: z.strictObject({ visibility: Visibility }),
      summary: 'Change the visibility of every message of a thread the caller owns (R-61)',
      response: z.object({ threadId: Id, visibility: Visibility, messagesChanged: z.number().int() }),
    },
    ({ actor, params, body }) => setThreadVisibility(ctx, actor, params.id, body.visibility),
  );
  defineRoute(
    app,
    {
      method: 'GET', url: '/api/v1/pipeline/message-previews', tags, auth: 'caller',
      summary: 'Count and latest visible message per candidate, for the pipeline and search hover (R-63)',
      query: z.object({ candidateIds: z.string().transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean)).pipe(z.array(Id).min(1).max(200)) }),
      response: z.record(z.string(), z.object({ count: z.number().int(), latest: z.object({ subject: z.string(), snippet: z.string(), sentAt: Timestamp }).nullable() })),
    },
    async ({ actor, query }) => {
      if (actor.kind !== 'user') throw forbidden('Messages belong to seats: act as a user (X-Act-As-User) to read them.');
      return messagePreviews(ctx, actor, actor.contractId, query.candidateIds);
    },
  );
}
