/**
 * One sync run per email grant at a time, across processes: historical, incremental and backfill runs of a grant
 * take a lease on its `sync_states` row (migration 0007). The lease is timed by the database's clock (one clock
 * for every process, untouched by test mode's product clock) and renewed by its holder while the run lives, so
 * only a process that died (or froze for a whole lease) loses it. Works alike on PGlite and Postgres: a
 * compare-and-set on a row, no session-level lock that a connection pool or a single embedded session would blur.
 */
import { sql, type Kysely, type Selectable, type UpdateObject } from 'kysely';
import type { Clock } from '../clock.ts';
import { newId } from '../ids.ts';
import { RetryLaterError } from '../jobs/index.ts';
import type { DB } from '../store/schema.ts';

export type RunKind = 'historical' | 'incremental' | 'backfill';

/** How long a lease lasts without renewal; the holder renews it every third of that. */
export const DEFAULT_RUN_LEASE_MS = 120_000;

/** Thrown at a page boundary when the run's lease was taken over (its process stalled past the lease). */
export class LeaseLostError extends RetryLaterError {
  constructor(at: Date) {
    super(at, 'the sync run lost its lease to another run of the same grant');
    this.name = 'LeaseLostError';
  }
}

export type SyncStateRow = Selectable<DB['sync_states']>;

export interface RunLease {
  readonly id: string;
  /** The grant's sync state as the lease was taken (the row the lease was written into). */
  readonly state: SyncStateRow;
  /** Throws `LeaseLostError` if another run has taken the grant over since the last renewal. */
  check(): void;
  /**
   * Writes the run's saved position (cursor, checkpoint, phase, counts, error) into the grant's sync state only while
   * this lease still holds the grant, in the same UPDATE: a run whose process stalled past its lease, once another run
   * has taken over, writes nothing and stops with `LeaseLostError`. Whatever its own clock says.
   */
  save(db: Kysely<DB>, set: UpdateObject<DB, 'sync_states'>, options?: { release?: boolean }): Promise<void>;
  /**
   * Inside a transaction that writes the run's mail (stored messages, decisions, deletions): share-locks the grant's
   * sync state row if this lease still holds it, so a takeover waits for the commit and then sees what it wrote; throws
   * `LeaseLostError` when another run already has the grant, and the transaction writes nothing.
   */
  hold(trx: Kysely<DB>): Promise<void>;
  release(): Promise<void>;
}

interface Holder {
  kind: RunKind | null;
  untilMs: number | null;
  /** false: the grant has no sync state row yet (`ensureState` first). */
  exists: boolean;
}

/**
 * Takes the grant's run lease, with the grant's sync state as it stands (one statement), or returns who holds it.
 */
export async function tryAcquireRunLease(db: Kysely<DB>, clock: Clock, authorizationId: string, kind: RunKind, leaseMs = DEFAULT_RUN_LEASE_MS): Promise<RunLease | Holder> {
  const id = newId();
  const claimed = await sql<SyncStateRow>`
    UPDATE sync_states
       SET run_lease_id = ${id}::uuid, run_lease_kind = ${kind},
           run_lease_until = clock_timestamp() + ${leaseMs}::int * interval '1 millisecond'
     WHERE authorization_id = ${authorizationId}::uuid
       AND (run_lease_until IS NULL OR run_lease_until < clock_timestamp())
     RETURNING *`.execute(db);
  if (claimed.rows.length === 0) {
    const holder = await sql<{ kind: RunKind | null; remaining_ms: number | string | null }>`
      SELECT run_lease_kind AS kind,
             (extract(epoch FROM (run_lease_until - clock_timestamp())) * 1000)::float8 AS remaining_ms
        FROM sync_states WHERE authorization_id = ${authorizationId}::uuid`.execute(db);
    const row = holder.rows[0];
    return { kind: row?.kind ?? null, untilMs: row?.remaining_ms === null || row?.remaining_ms === undefined ? null : Math.max(0, Number(row.remaining_ms)), exists: row !== undefined };
  }
  return startHeartbeat(db, clock, authorizationId, id, leaseMs, claimed.rows[0]!);
}

function startHeartbeat(db: Kysely<DB>, clock: Clock, authorizationId: string, id: string, leaseMs: number, state: SyncStateRow): RunLease {
  let lost = false;
  let released = false;
  let renewing: Promise<void> = Promise.resolve();
  const renew = async () => {
    try {
      const result = await sql<{ authorization_id: string }>`
        UPDATE sync_states SET run_lease_until = clock_timestamp() + ${leaseMs}::int * interval '1 millisecond'
         WHERE authorization_id = ${authorizationId}::uuid AND run_lease_id = ${id}::uuid
         RETURNING authorization_id`.execute(db);
      if (result.rows.length === 0 && !released) lost = true;
    } catch {
      // A failed renewal is tried again at the next beat; the lease lasts three beats.
    }
  };
  const timer = setInterval(() => {
    renewing = renewing.then(renew);
  }, Math.max(50, Math.floor(leaseMs / 3)));
  timer.unref();
  const lose = (): never => {
    lost = true;
    throw new LeaseLostError(new Date(clock.now().getTime() + 1000));
  };
  return {
    id,
    state,
    check() {
      if (lost) lose();
    },
    async save(db, set, options) {
      // The run's last write ends its lease in the same UPDATE (no separate release).
      const release = options?.release === true;
      if (release) {
        released = true;
        clearInterval(timer);
        await renewing;
      }
      let saved;
      try {
        saved = await db
          .updateTable('sync_states')
          .set(release ? { ...set, run_lease_id: null, run_lease_until: null, run_lease_kind: null } : set)
          .where('authorization_id', '=', authorizationId)
          .where('run_lease_id', '=', id)
          .returning('authorization_id')
          .executeTakeFirst();
      } catch (error) {
        // Not written: `release` ends the lease as usual.
        if (release) released = false;
        throw error;
      }
      if (!saved) lose();
    },
    async hold(trx) {
      const held = await trx
        .selectFrom('sync_states')
        .select('authorization_id')
        .where('authorization_id', '=', authorizationId)
        .where('run_lease_id', '=', id)
        .forShare()
        .executeTakeFirst();
      if (!held) lose();
    },
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      await renewing;
      await sql`
        UPDATE sync_states SET run_lease_id = NULL, run_lease_until = NULL, run_lease_kind = NULL
         WHERE authorization_id = ${authorizationId}::uuid AND run_lease_id = ${id}::uuid`.execute(db);
    },
  };
}

export const isLease = (value: RunLease | Holder): value is RunLease => 'release' in value;

/**
 * The run that found the grant busy is not lost: it is put back for later (by the product clock). A historical
 * run takes long, so a run waiting for one looks again less often.
 */
export function busy(holder: Holder, now: Date): RetryLaterError {
  const waitMs = holder.kind === 'historical' ? 30_000 : Math.min(Math.max(holder.untilMs ?? 5_000, 1_000), 5_000);
  return new RetryLaterError(new Date(now.getTime() + waitMs), `another ${holder.kind ?? 'sync'} run of this mailbox is in progress`);
}
