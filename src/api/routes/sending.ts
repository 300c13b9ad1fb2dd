import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { PipelineJobs } from '../../services/candidates.ts';
import type { MailboxDeps } from '../../services/mailbox-authorization.ts';
import { sendEmail } from '../../services/sending.ts';
import { defineRoute } from '../route.ts';
import { IdParams } from '../schemas.ts';
import { MessageSchema } from './messages.ts';

/** API.md "Messages": sending from the product. */
export function sendingRoutes(app: FastifyInstance, deps: MailboxDeps, jobs?: PipelineJobs): void {
  defineRoute(
    app,
    {
      method: 'POST', url: '/api/v1/candidates/{id}/emails', tags: ['Messages'], auth: 'caller', params: IdParams,
      summary: "Email the candidate from the caller's own mailbox (R-50); `to` is required when the candidate has no email and is then saved to the profile",
      body: z
        .strictObject({
          subject: z.string().trim().min(1).max(998),
          bodyHtml: z.string().max(500_000).optional(),
          bodyText: z.string().max(500_000).optional(),
          to: z.string().trim().max(254).optional(),
          replyToMessageId: IdParams.shape.id.optional(),
        })
        .refine((b) => b.bodyHtml !== undefined || b.bodyText !== undefined, { message: 'bodyHtml or bodyText is required', path: ['bodyText'] }),
      response: MessageSchema,
      errors: ['send_not_allowed', 'send_scope_missing', 'not_authorized', 'needs_reauthorization', 'contract_suspended', 'rate_limited', 'provider_unavailable'],
    },
    ({ actor, params, body }) => sendEmail(deps, actor, params.id, body, jobs),
  );
}
