import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { PipelineJobs } from '../../services/candidates.ts';
import type { MailboxDeps } from '../../services/mailbox-authorization.ts';
import { listCandidateEmails, removeCandidateEmail, sendEmail } from '../../services/sending.ts';
import { defineRoute } from '../route.ts';
import { Id, IdParams } from '../schemas.ts';
import { MessageSchema } from './messages.ts';

/** API.md "Messages": sending from the product. */
export function sendingRoutes(app: FastifyInstance, deps: MailboxDeps, jobs?: PipelineJobs): void {
  defineRoute(
    app,
    {
      method: 'POST', url: '/api/v1/candidates/{id}/emails', tags: ['Messages'], auth: 'caller', params: IdParams,
      summary:
        "Email the candidate from the caller's own mailbox (R-50); `to` is required when the candidate has no email; a `to` not on the profile is saved to it (the caller may remove it again). " +
        'A subject over 998 characters (the RFC 5322 line limit) is refused with `validation_failed`, never cut',
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

  defineRoute(
    app,
    {
      method: 'GET', url: '/api/v1/candidates/{id}/emails', tags: ['Messages'], auth: 'caller', params: IdParams,
      summary: "The candidate's addresses in profile order, with who added each in the product (null for addresses the host system gave) and whether the caller may remove it (who added it, or an admin)",
      response: z.object({ emails: z.array(z.object({ address: z.string(), addedBy: z.object({ userId: Id, name: z.string() }).nullable(), removable: z.boolean() })) }),
    },
    async ({ actor, params }) => ({ emails: await listCandidateEmails(deps, actor, params.id) }),
  );

  defineRoute(
    app,
    {
      method: 'DELETE', url: '/api/v1/candidates/{id}/emails/{address}', tags: ['Messages'], auth: 'caller',
      params: z.object({ id: Id, address: z.string().trim().min(3).max(254) }),
      summary:
        'Remove an address from the candidate’s profile (one typed by mistake when emailing, R-50). Allowed to the user who added it in the product, or an admin; audited. ' +
        'Mail already stored stays; from then on mail with the address is not synced, even in a conversation started from the product, and the decision log says it was removed from the profile (R-33, R-40). ' +
        'Answers the addresses left',
      response: z.object({ emails: z.array(z.string()) }),
      errors: ['forbidden'],
    },
    ({ actor, params }) => removeCandidateEmail(deps, actor, params.id, params.address, jobs),
  );
}
