import { reauthorizationResumes } from '../domain/ingestion/index.ts';
import type { Jobs } from '../jobs/index.ts';
import type { Logger } from '../logging.ts';
import type { ServiceContext } from '../services/context.ts';
import { registerBackfillWorker, requestGapBackfills } from './backfill.ts';
import { requestPushUpkeep } from './push.ts';
import { runHistoricalSync, runInProgress, runIncrementalSync, type SyncDeps } from './engine.ts';
import { PROBE_EVERY_SECONDS, probeGrants } from './probe.ts';

/** Polling is the fallback when push is missing or late; it follows the product clock. */
export const POLL_SECONDS = 60;
/**
 * Historical syncs one worker process runs at once. A run spends most of its time waiting on the provider and the
 * database, so one at a time leaves the process mostly idle; each run works a different grant (one run per grant,
 * sync/lock.ts), and a run waiting on its mailbox's quota re-queues itself rather than keep its slot.
 */
export const HISTORICAL_SYNC_CONCURRENCY = 4;
/**
 * Incremental syncs (a notification's, a poll's) one worker process runs at once: a burst of notifications for
 * many mailboxes is synced side by side, not one after another. With the historical slots this stays below the
 * process's database pool (10 connections).
 */
export const MAILBOX_SYNC_CONCURRENCY = 4;
export const pollScheduleName = (authorizationId: string): string => `sync.poll:${authorizationId}`;

/**
 * Called when an email grant has been stored (authorization or re-authorization): a grant whose historical sync
 * finished resumes from its cursor; any other begins or resumes its historical sync.
 */
export async function startSyncForGrant(ctx: ServiceContext, jobs: Pick<Jobs, 'send'>, authorizationId: string): Promise<void> {
  const grant = await ctx.db.selectFrom('mailbox_authorizations').select(['kind', 'state', 'deauthorized_at', 'last_authorized_at', 'provider', 'address']).where('id', '=', authorizationId).executeTakeFirst();
  if (!grant || grant.kind !== 'email' || grant.state !== 'authorized') return;
  const state = await ctx.db.selectFrom('sync_states').select(['phase', 'cursor', 'cursor_provider', 'cursor_address']).where('authorization_id', '=', authorizationId).executeTakeFirst();
  const now = ctx.clock.now();
  const address = grant.address?.trim().toLowerCase() ?? null;
  // a cursor (or a scan's checkpoint) of another provider or another mailbox is never handed to this one.
  const foreign =
    state !== undefined &&
    state.phase !== 'idle' &&
    state.cursor_provider !== null &&
    (state.cursor_provider !== grant.provider || (state.cursor_address !== null && address !== null && state.cursor_address !== address));
  if (foreign) {
    await ctx.db
      .updateTable('sync_states')
      .set({ phase: 'idle', cursor: null, checkpoint: null, window_start: null, historical_started_at: null, historical_completed_at: null, cursor_provider: null, cursor_address: null, cursor_since: null, updated_at: now })
      .where('authorization_id', '=', authorizationId)
      .execute();
    // A new historical sync, its window relative to this authorization; what was stored stays.
    await jobs.send('sync.historical', { authorizationId }, { singletonKey: `sync.historical:${authorizationId}` });
    return;
  }
  const deauthorizedAt = grant.deauthorized_at;
  // deauthorized_at is when syncing stopped: a deauthorization, or a refusal (needs_reauthorization, R-12).
  const awayTooLong =
    deauthorizedAt !== null && deauthorizedAt.getTime() <= grant.last_authorized_at.getTime() && !reauthorizationResumes({ deauthorizedAt, reauthorizedAt: grant.last_authorized_at });
  if (state !== undefined && state.phase !== 'idle' && awayTooLong) {
    // away for more than six months — a new historical sync, its window relative to this authorization; this
    // holds for a scan stopped half-way too (its checkpoint and window belong to the old authorization).
    await ctx.db
      .updateTable('sync_states')
      .set({ phase: 'idle', cursor: null, checkpoint: null, window_start: null, historical_started_at: null, historical_completed_at: null, updated_at: now })
      .where('authorization_id', '=', authorizationId)
      .execute();
    await jobs.send('sync.historical', { authorizationId }, { singletonKey: `sync.historical:${authorizationId}` });
    return;
  }
  if (state?.phase === 'incremental' && state.cursor) {
    // resume from the cursor. The changes waiting there were made while the grant was not authorized:
    // their deletions are not mirrored; their new mail is.
    await ctx.db
      .updateTable('sync_states')
      .set({ checkpoint: JSON.stringify({ catchUp: { reauthorizedAt: grant.last_authorized_at.toISOString() } }), updated_at: now })
      .where('authorization_id', '=', authorizationId)
      .execute();
    await jobs.send('sync.mailbox', { authorizationId, trigger: 'reauthorized' }, { singletonKey: `sync.mailbox:${authorizationId}` });
    // candidates who came to qualify while the grant was away.
    await requestGapBackfills(ctx, jobs, authorizationId);
    // push resumes with the sync (channels renewed, or started again where they lapsed).
    await requestPushUpkeep(jobs, authorizationId);
  } else {
    await jobs.send('sync.historical', { authorizationId }, { singletonKey: `sync.historical:${authorizationId}` });
    // A scan resumed from its checkpoint asks for the addresses it began with.
    await requestGapBackfills(ctx, jobs, authorizationId);
  }
}

/** `startSyncForGrant` for the seat's email grant: what the OAuth callback calls once an email grant is stored. */
export async function startEmailSync(ctx: ServiceContext, jobs: Pick<Jobs, 'send'>, seatId: string): Promise<void> {
  const grant = await ctx.db.selectFrom('mailbox_authorizations').select('id').where('seat_id', '=', seatId).where('kind', '=', 'email').executeTakeFirst();
  if (grant) await startSyncForGrant(ctx, jobs, grant.id);
}

export async function registerSyncWorkers(jobs: Jobs, deps: SyncDeps, logger: Logger): Promise<void> {
  const log = logger.child({ component: 'sync' });

  jobs.work('sync.historical', async ({ authorizationId }) => {
    // Polled from the start: should this run's process die, the poll brings the scan back once its lease lapses.
    await jobs.schedule(pollScheduleName(authorizationId), { seconds: POLL_SECONDS }, 'sync.mailbox', { authorizationId, trigger: 'poll' });
    const outcome = await runHistoricalSync(deps, authorizationId);
    log.info({ authorizationId, outcome }, 'historical sync run');
    if (outcome === 'completed' || outcome === 'resynced') {
      await jobs.schedule(pollScheduleName(authorizationId), { seconds: POLL_SECONDS }, 'sync.mailbox', { authorizationId, trigger: 'poll' });
      // push from here on (the poll stays as the fallback).
      await requestPushUpkeep(jobs, authorizationId);
    }
  }, { concurrency: HISTORICAL_SYNC_CONCURRENCY });

  // A notification's sync is often sent by a web process: on Postgres the send is announced and an idle worker
  // process takes it at once (jobs/index.ts); polling is the fallback.
  jobs.work('sync.mailbox', async ({ authorizationId, trigger }) => {
    // The grant and its sync state in one read, handed to the run so it does not read them again.
    const grant = await deps.db
      .selectFrom('mailbox_authorizations as a')
      .leftJoin('sync_states as s', 's.authorization_id', 'a.id')
      .select(['a.seat_id', 'a.state', 'a.kind', 'a.provider', 'a.address', 's.phase'])
      .select((eb) => eb('s.cursor', 'is not', null).as('has_cursor'))
      .where('a.id', '=', authorizationId)
      .executeTakeFirst();
    if (!grant || grant.state !== 'authorized') {
      // Deauthorized or refused: syncing stops, the poll with it.
      await jobs.unschedule(pollScheduleName(authorizationId));
      return;
    }
    if (grant.kind !== 'email') return;
    if (grant.phase === null || grant.phase === 'idle' || grant.phase === 'historical') {
      // No historical sync yet (a grant from before the engine ran), or one (or a resync after an expired cursor)
      // still to finish: that job carries on from its checkpoint — unless a live run is at it right now.
      if (await runInProgress(deps.db, authorizationId)) return;
      await jobs.send('sync.historical', { authorizationId }, { singletonKey: `sync.historical:${authorizationId}` });
      return;
    }
    const outcome = await runIncrementalSync(deps, authorizationId, {
      grant: { seat_id: grant.seat_id, state: grant.state, kind: grant.kind, provider: grant.provider, address: grant.address },
      phase: grant.phase,
      hasCursor: grant.has_cursor === true,
    });
    if (outcome !== 'skipped') log.debug({ authorizationId, trigger, outcome }, 'incremental sync run');
  }, { concurrency: MAILBOX_SYNC_CONCURRENCY });

  registerBackfillWorker(jobs, deps, log);

  // refused grants are found by the product itself, within two minutes (sync/probe.ts).
  jobs.work('grants.probe', async ({ authorizedBefore }) => {
    const counts = await probeGrants(deps, authorizedBefore ? { authorizedBefore: new Date(authorizedBefore) } : {});
    if (counts.refused > 0 || counts.unknown > 0) log.info(counts, 'grant health probe');
  });
  await jobs.schedule('grants.probe', { seconds: PROBE_EVERY_SECONDS }, 'grants.probe', {});
  // At start, every grant from before it: the provider may have forgotten them all (the demo's new simulated mailboxes).
  await jobs.send('grants.probe', { authorizedBefore: deps.clock.now().toISOString() }, { singletonKey: 'grants.probe:start' });
}
