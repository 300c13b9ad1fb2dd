import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ServiceContext } from '../../services/context.ts';
import { DECISIONS_LIMIT, listSeatDecisions } from '../../sync/ingest/decisions.ts';
import { defineRoute } from '../route.ts';
import { Id, IdParams, Timestamp } from '../schemas.ts';

const Decision = z.object({
  providerMessageId: z.string().nullable().describe('Null for an explanation of an address no examined message carried (detail.addressOnly): the rules applied to the address itself'),
  threadId: Id.nullable().describe('The stored thread when the message is stored (as in the messages API), else null'),
  providerThreadId: z.string().nullable().describe("The provider's thread (Gmail) or conversation (Graph) id"),
  decidedAt: Timestamp,
  ingested: z.boolean(),
  rule: z.string().nullable().describe('The rule that kept the message out (R-30 … R-38; R-25 purged conversation; R-24 or R-37 once removed), null when synced'),
  detail: z
    .record(z.string(), z.unknown())
    .describe(
      "Header facts and the reason in plain words (`summary`), never a body. The seat's holder sees every fact of decisions made while holding the seat; admins, integrations acting as themselves and later holders see decisions about candidate mail only (the counterpart is a candidate email of the company, or the email was synced), with `summary`, `ruleTitle`, `counterpart` and `messageDate` only (`restricted: true`).",
    ),
});

/** API.md "Seat mailbox": the ingestion decision log of a seat. */
export function decisionRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  defineRoute(
    app,
    {
      method: 'GET',
      url: '/api/v1/seats/{id}/sync/decisions',
      tags: ['Seat mailbox'],
      auth: 'caller',
      summary: `Why each email was or was not synced (R-40): by counterpart address or provider message id, newest first, at most ${DECISIONS_LIMIT}`,
      params: IdParams,
      query: z.object({
        address: z.string().trim().min(3).max(320).optional().describe('A counterpart address; compared normalized (case and +tags ignored)'),
        providerMessageId: z.string().min(1).max(1000).optional(),
      }),
      response: z.array(Decision),
    },
    ({ actor, params, query }) => listSeatDecisions(ctx, actor, params.id, query),
  );
}
