import fc from 'fast-check';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { createApiToken } from '../../src/services/credentials.ts';
import type { Database } from '../../src/store/database.ts';
import { startTestApi, type TestApi } from '../helpers/app.ts';
import { backends } from '../helpers/databases.ts';
import { REGRESSIONS, runSequence, stepArbitrary, type Driver, type MessageSeen, type Outcome, type Reader } from './visibility-model.ts';
import { connectMailbox, insertWorld, mailboxOf, storeSyncedMessage, visiblePairsReader } from './visibility-store.ts';
import { exportManifest } from '../helpers/zip.ts';

/**
 * The visibility property (visibility-model.ts) through the HTTP API, as the host recruiting system calls it: its
 * contract token acting as each user (`X-Act-As-User`) or as itself, seats changed with the system token. Slower
 * than the service-level property (visibility.property.test.ts), so fewer and longer sequences: what it adds is
 * that every route reaches its service with the caller it was given.
 */
const RUNS: Record<string, number> = { pglite: 40, postgres: 15 };

function httpDriver(api: TestApi): Driver {
  const tokens = new Map<string, string>();
  async function call<T>(reader: Reader | 'system', method: string, url: string, body?: unknown): Promise<Outcome<T>> {
    const res = await api.call(method, url, {
      ...(reader === 'system' ? {} : { token: tokens.get(reader.contractId)! }),
      ...(reader !== 'system' && reader.kind === 'user' ? { actAs: reader.userId } : {}),
      ...(body === undefined ? {} : { body }),
    });
    // The R-71 export is a .zip: its messages.json stands for the answer.
    if (res.statusCode < 300) return { ok: true, value: (res.headers['content-type'] === 'application/zip' ? exportManifest(res.rawPayload) : res.json()) as T };
    return { ok: false, code: (res.json() as { error: { code: string } }).error.code };
  }
  const map = <T, U>(outcome: Outcome<T>, f: (value: T) => U): Outcome<U> => (outcome.ok ? { ok: true, value: f(outcome.value) } : outcome);
  const seen = (m: MessageSeen): MessageSeen => ({ id: m.id, visibility: m.visibility, isOwner: m.isOwner });

  return {
    async setup(run) {
      const world = await insertWorld(api.ctx.db, api.clock.now(), run);
      for (const contractId of world.contracts) tokens.set(contractId, (await createApiToken(api.ctx, { kind: 'contract', contractId })).token);
      return world;
    },
    tick() {
      api.clock.set(new Date(api.clock.now().getTime() + 1000));
      return api.clock.now();
    },
    sync: ({ mailboxOf: userId, ...input }) => storeSyncedMessage(api.ctx.db, { ...input, mailbox: mailboxOf(userId) }),
    connect: (contractId, seatId, userId) => connectMailbox(api.ctx.db, { contractId, seatId, address: mailboxOf(userId), at: api.clock.now() }),
    createSeat: async (contractId, userId) => call('system', 'POST', `/api/v1/contracts/${contractId}/seats`, { userId }),
    changeSeatHolder: async (seatId, toUserId) => (toUserId === null ? call('system', 'POST', `/api/v1/seats/${seatId}/park`) : call('system', 'POST', `/api/v1/seats/${seatId}/transfer`, { toUserId })),
    setMessageVisibility: async (reader, messageId, visibility) => map(await call<MessageSeen>(reader, 'PATCH', `/api/v1/messages/${messageId}`, { visibility }), seen),
    setThreadVisibility: async (reader, threadId, visibility) => map(await call<{ messagesChanged: number }>(reader, 'PATCH', `/api/v1/threads/${threadId}`, { visibility }), (r) => ({ messagesChanged: r.messagesChanged })),
    candidateMessages: async (reader, candidateId) =>
      map(await call<Array<{ threadId: string; visibility: 'private' | 'contract'; messages: MessageSeen[] }>>(reader, 'GET', `/api/v1/candidates/${candidateId}/messages`), (threads) =>
        threads.map((t) => ({ threadId: t.threadId, visibility: t.visibility, messages: t.messages.map(seen) })),
      ),
    message: async (reader, messageId) => map(await call<MessageSeen>(reader, 'GET', `/api/v1/messages/${messageId}`), seen),
    // The route takes the contract from the caller; the pipeline and the search results both ask it.
    previews: async (reader, _contractId, candidateIds) =>
      map(await call<Record<string, { count: number; latest: { subject: string } | null }>>(reader, 'GET', `/api/v1/pipeline/message-previews?candidateIds=${candidateIds.join(',')}`), (p) =>
        Object.fromEntries(Object.entries(p).map(([id, v]) => [id, { count: v.count, latestSubject: v.latest?.subject ?? null }])),
      ),
    exportSeat: async (reader, seatId) => map(await call<{ messages: Array<{ id: string }> }>(reader, 'GET', `/api/v1/seats/${seatId}/export`), (e) => e.messages.map((m) => m.id)),
    syncHealth: async (reader, contractId) =>
      map(await call<Array<{ seatId: string; userId: string | null }>>(reader, 'GET', `/api/v1/contracts/${contractId}/sync-health`), (rows) => rows.map((row) => ({ seatId: row.seatId, userId: row.userId, text: JSON.stringify(row) }))),
    visiblePairs: visiblePairsReader(api.ctx.db),
  };
}

describe.each(backends)('visibility property (R-60 … R-63) through the HTTP API on $name', (backend) => {
  let database: Database;
  let api: TestApi;
  beforeAll(async () => {
    database = await backend.open();
    api = await startTestApi(database);
  });
  afterAll(async () => {
    await api?.close();
    await database?.close();
  });

  it('every route answers what the model allows, after any sequence of steps', async () => {
    const driver = httpDriver(api);
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(stepArbitrary, { minLength: 5, maxLength: 40, size: 'medium' }), async (steps) => runSequence(driver, ++run, steps)),
      { numRuns: Number(process.env.PROPERTY_HTTP_RUNS ?? RUNS[backend.name]), examples: REGRESSIONS.map((steps) => [steps]) },
    );
  }, 300_000);
});
