import fc from 'fast-check';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { AdjustableClock } from '../../src/clock.ts';
import { AppError } from '../../src/errors.ts';
import type { Actor } from '../../src/services/actors.ts';
import type { ServiceContext } from '../../src/services/context.ts';
import { exportSeat } from '../../src/services/export.ts';
import { getMessage, listCandidateMessages, messagePreviews, setMessageVisibility, setThreadVisibility, type MessageView } from '../../src/services/messages.ts';
import { changeSeatHolder, createSeat } from '../../src/services/seats.ts';
import { syncHealth } from '../../src/services/sync-health.ts';
import type { Database } from '../../src/store/database.ts';
import { backends } from '../helpers/databases.ts';
import { REGRESSIONS, runSequence, stepArbitrary, type Driver, type Outcome, type Reader } from './visibility-model.ts';
import { connectMailbox, insertWorld, mailboxOf, storeSyncedMessage, visiblePairsReader } from './visibility-store.ts';

/**
 * R-60 … R-63 under thousands of random sequences of syncs, visibility changes (message and thread), transfers,
 * parks (which end the seat's grant, R-62), mailbox connections, new seats and reads across two contracts, each
 * sequence on contracts of its own in one database. Commands and reads call the product's services and store
 * functions directly: a message is stored by the sync engine's `ingestBatch`, and every read path answers through its own service (candidate messages, message by id, the
 * previews of pipeline rows and search hovers, the seat export, sync health), each answer compared with the model
 * (visibility-model.ts). After every step that acts on a contract, the store's visibility predicate is asked about
 * each of its users and every message, and compared with the model too.
 *
 * On a Postgres server every statement is a round trip and every commit waits for it, hence fewer sequences there.
 * `PROPERTY_RUNS` overrides the number of sequences on every backend (a long soak: PROPERTY_RUNS=20000).
 */
const RUNS: Record<string, number> = { pglite: 2000, postgres: 250 };

function serviceDriver(ctx: ServiceContext & { clock: AdjustableClock }): Driver {
  const system: Actor = { kind: 'integration', tokenId: 'property', contractId: null };
  const actor = (reader: Reader): Actor =>
    reader.kind === 'user' ? { kind: 'user', userId: reader.userId, contractId: reader.contractId, role: reader.role, via: 'integration' } : { kind: 'integration', tokenId: 'property', contractId: reader.contractId };
  const outcome = <T>(promise: Promise<T>): Promise<Outcome<T>> =>
    promise.then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => {
        if (error instanceof AppError) return { ok: false as const, code: error.code };
        throw error;
      },
    );
  const seen = (m: MessageView) => ({ id: m.id, visibility: m.visibility, isOwner: m.isOwner });
  const { db, clock } = ctx;

  return {
    setup: (run) => insertWorld(db, clock.now(), run),
    tick() {
      clock.set(new Date(clock.now().getTime() + 1000));
      return clock.now();
    },
    sync: ({ mailboxOf: userId, ...input }) => storeSyncedMessage(db, { ...input, mailbox: mailboxOf(userId) }),
    connect: (contractId, seatId, userId) => connectMailbox(db, { contractId, seatId, address: mailboxOf(userId), at: clock.now() }),
    createSeat: (contractId, userId) => outcome(createSeat(ctx, system, contractId, { userId })),
    changeSeatHolder: (seatId, toUserId) => outcome(changeSeatHolder(ctx, system, seatId, toUserId)),
    setMessageVisibility: (reader, messageId, visibility) => outcome(setMessageVisibility(ctx, actor(reader), messageId, visibility).then(seen)),
    setThreadVisibility: (reader, threadId, visibility) => outcome(setThreadVisibility(ctx, actor(reader), threadId, visibility).then((r) => ({ messagesChanged: r.messagesChanged }))),
    candidateMessages: (reader, candidateId) =>
      outcome(listCandidateMessages(ctx, actor(reader), candidateId).then((threads) => threads.map((t) => ({ threadId: t.threadId, visibility: t.visibility, messages: t.messages.map(seen) })))),
    message: (reader, messageId) => outcome(getMessage(ctx, actor(reader), messageId).then(seen)),
    previews: (reader, contractId, candidateIds) =>
      outcome(messagePreviews(ctx, actor(reader), contractId, candidateIds).then((p) => Object.fromEntries(Object.entries(p).map(([id, v]) => [id, { count: v.count, latestSubject: v.latest?.subject ?? null }])))),
    exportSeat: (reader, seatId) =>
      outcome(
        exportSeat(ctx, actor(reader), seatId).then(async (e) => {
          // The archive reads the messages as it is consumed: read it to its end before the database closes.
          for await (const chunk of e.stream) void chunk;
          return e.messageIds;
        }),
      ),
    syncHealth: (reader, contractId) => outcome(syncHealth(ctx, actor(reader), contractId).then((rows) => rows.map((row) => ({ seatId: row.seatId, userId: row.userId, text: JSON.stringify(row) })))),
    visiblePairs: visiblePairsReader(db),
  };
}

describe.each(backends)('visibility property (R-60 … R-63) on $name', (backend) => {
  let database: Database;
  beforeAll(async () => {
    database = await backend.open();
  });
  afterAll(async () => {
    await database?.close();
  });

  it('no caller ever sees a message the rules hide, after any sequence of steps, through any read path', async () => {
    const driver = serviceDriver({ db: database.db, clock: new AdjustableClock() });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(stepArbitrary, { minLength: 1, maxLength: 20 }), async (steps) => runSequence(driver, ++run, steps)),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? RUNS[backend.name]), examples: REGRESSIONS.map((steps) => [steps]) },
    );
  }, 600_000);
});
