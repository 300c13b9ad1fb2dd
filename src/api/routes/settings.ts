import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { listAudit } from '../../services/audit.ts';
import { assertContractAdmin } from '../../services/actors.ts';
import type { ServiceContext } from '../../services/context.ts';
import * as settings from '../../services/settings.ts';
import { syncHealth } from '../../services/sync-health.ts';
import { PushState, SyncStatusSchema } from './mailbox.ts';
import { defineRoute } from '../route.ts';
import { Id, IdParams, Notice, Settings, Timestamp } from '../schemas.ts';

/** API.md "Admin settings": R-01 … R-07. */
export function settingsRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const tags = ['Admin settings'];
  defineRoute(
    app,
    { method: 'GET', url: '/api/v1/contracts/{id}/settings', summary: 'Email and calendar settings with notices (R-04)', tags, auth: 'caller', params: IdParams, response: Settings },
    ({ actor, params }) => settings.getSettings(ctx, actor, params.id),
  );
  defineRoute(
    app,
    {
      method: 'PUT', url: '/api/v1/contracts/{id}/settings',
      summary: 'Change settings (partial). A lower access level deauthorizes every seat (R-03); a provider change ends all grants (R-06)',
      tags, auth: 'caller', params: IdParams,
      body: z.strictObject({
        emailProvider: z.enum(['google', 'microsoft']).nullable().optional(),
        emailAccess: z.enum(['off', 'view', 'send_and_view']).optional(),
        calendarEnabled: z.boolean().optional(),
        allowExternalMailboxes: z.boolean().optional(),
        // Accepted so that a GET result can be sent back as it is; notices are computed, never stored.
        notices: z.array(Notice).optional(),
      }),
      response: Settings.extend({ deauthorizedSeats: z.number().int() }),
      successStatus: 200,
    },
    ({ actor, params, body }) => {
      const { notices: _ignored, ...changes } = body;
      return settings.updateSettings(ctx, actor, params.id, changes);
    },
  );
  defineRoute(
    app,
    {
      method: 'GET', url: '/api/v1/contracts/{id}/audit',
      summary: 'Audit log, newest first (R-07); page with ?before=<nextCursor>, filter by ?actorUserId= and ?action=; names resolved for display', tags, auth: 'caller',
      params: IdParams,
      query: z.object({
        limit: z.coerce.number().int().min(1).max(500).default(100),
        before: z.coerce.number().int().positive().optional(),
        actorUserId: Id.optional().describe('Only entries this user performed (signed in, or acted as by an integration)'),
        action: z.string().regex(/^[a-z_]+(\.[a-z_]+)+$/).max(100).optional().describe('Only entries of this action, e.g. settings.changed'),
      }),
      response: z.object({
        entries: z.array(
          z.object({
            id: z.number().int(), at: Timestamp, actorKind: z.string(), actorUserId: Id.nullable(),
            actorName: z.string().nullable().describe("The acting user's name"),
            actorTokenId: z.string().nullable().describe('The integration token that performed it: acting as itself, or as actorUserId'), action: z.string(),
            targetType: z.string().nullable(), targetId: z.string().nullable(),
            targetName: z
              .string()
              .nullable()
              .describe("The target by name: a user's or candidate's name, a seat's holder, a token's purpose; a thread's or message's subject only while it is shared with the company"),
            userNames: z.record(z.string(), z.string()).describe('Names of the users the details mention (fromUserId, toUserId, userId)'),
            details: z.record(z.string(), z.unknown()),
          }),
        ),
        nextCursor: z.string().nullable(),
      }),
    },
    async ({ actor, params, query }) => {
      assertContractAdmin(actor, params.id);
      return listAudit(ctx.db, params.id, query);
    },
  );
  defineRoute(
    app,
    {
      method: 'GET', url: '/api/v1/contracts/{id}/sync-health', summary: 'Per seat: authorization state, sync phase, progress, last sync, last error', tags, auth: 'caller',
      params: IdParams,
      response: z.array(
        z.object({
          seatId: Id, userId: Id.nullable(), userName: z.string().nullable(),
          email: z.object({ state: z.enum(['not_authorized', 'authorized', 'needs_reauthorization', 'deauthorized']), address: z.string().nullable(), reason: z.string().nullable() }),
          calendar: z.object({ state: z.enum(['not_authorized', 'authorized', 'needs_reauthorization', 'deauthorized']), address: z.string().nullable(), reason: z.string().nullable() }),
          sync: z.object({
            phase: z.enum(['idle', 'historical', 'incremental', 'paused']), messagesIngested: z.number().int(), messagesExamined: z.number().int(),
            progress: z.number().nullable(), estimatedCompletionAt: Timestamp.nullable(), lastSyncedAt: Timestamp.nullable(), lastError: z.string().nullable(),
            push: PushState,
            // The same word the seat's page shows: up_to_date only when mail was read within 10 minutes.
            status: SyncStatusSchema, lastCheckedAt: Timestamp.nullable(),
          }),
        }),
      ),
    },
    ({ actor, params }) => syncHealth(ctx, actor, params.id),
  );
}
