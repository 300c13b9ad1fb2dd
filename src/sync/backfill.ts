/**
 * R-39: a candidate who comes to qualify later (added to the pipeline, a new address, a discovery setting or a
 * network degree that now admits the seat holder) gets their past conversations fetched for every authorized
 * seat — by asking the provider for that candidate's addresses only, within the R-35 window, never by rescanning
 * the mailbox. The same rules decide (R-30…R-38, R-36 from the threads' activity), bodies are fetched only for
 * ingested mail (R-41), and every decision is logged (R-40).
 */
import { activityCutoff, discoveryAdmits, windowStart, type SyncContext } from '../domain/ingestion/index.ts';
import { QUEUES, RetryLaterError, type Jobs } from '../jobs/index.ts';
import type { Logger } from '../logging.ts';
import type { ServiceContext } from '../services/context.ts';
import { processMessages, refreshCounts, settle, withRetry, withRunLock, type Run, type SyncDeps, type SyncOutcome } from './engine.ts';
import type { MessageFacts } from './ingest/index.ts';

/** Header facts decided and stored per transaction. */
const CHUNK = 500;
/** A backfill is asked for once: one that keeps failing comes back this much later rather than being dropped. */
const COME_BACK_MS = 15 * 60_000;

export interface BackfillResult {
  outcome: SyncOutcome;
  /** Messages the provider listed for the candidate's addresses (header facts only). */
  examined: number;
  /** Of those, the ones the rules let in. */
  ingested: number;
}

const skipped: BackfillResult = { outcome: 'skipped', examined: 0, ingested: 0 };

/**
 * The candidate's addresses whose mail can qualify in this seat: none unless the candidate is in the pipeline and
 * their discovery setting admits the seat holder. Each address as written and normalized, as the
 * historical scan asks for them.
 */
async function candidateAddresses(run: Run, candidateId: string): Promise<string[]> {
  const rows = await run.deps.db.selectFrom('candidate_emails').select(['address', 'normalized']).where('candidate_id', '=', candidateId).where('contract_id', '=', run.mailbox.contractId).execute();
  const lookup = await run.candidates.lookupFor(run.mailbox.contractId, run.mailbox.holderUserId);
  const out = new Set<string>();
  for (const row of rows) {
    const match = lookup.get(row.normalized)?.find((m) => m.candidateId === candidateId);
    if (!match || !match.inPipeline || !discoveryAdmits(match.emailDiscovery, match.ownerDegree)) continue;
    out.add(row.normalized);
    out.add(row.address.trim().toLowerCase());
  }
  return [...out].sort();
}

/**
 * The backfill of one candidate in one grant. Runs under the grant's run lease, so it never overlaps the grant's
 * historical or incremental runs. A grant whose historical sync has not begun is skipped: that scan will ask for
 * the candidate itself. A historical scan begun earlier asks for the addresses it began with, so the candidate's
 * backfill runs (once the scan lets go of the lease, or between two of its runs) and covers what the scan misses.
 */
export async function runCandidateBackfill(deps: SyncDeps, authorizationId: string, candidateId: string): Promise<BackfillResult> {
  const state = await deps.db.selectFrom('sync_states').select('phase').where('authorization_id', '=', authorizationId).executeTakeFirst();
  if (!state || state.phase === 'idle') return skipped;
  const result = await withRunLock(deps, authorizationId, 'backfill', (run) => backfill(run, candidateId));
  return result === 'skipped' ? skipped : result;
}

async function backfill(run: Run, candidateId: string): Promise<BackfillResult> {
  const { deps, authorizationId } = run;
  const { db, clock } = deps;
  const state = await db.selectFrom('sync_states').selectAll().where('authorization_id', '=', authorizationId).executeTakeFirstOrThrow();
  if (state.phase === 'idle') return skipped;
  const addresses = await candidateAddresses(run, candidateId);
  if (addresses.length === 0) return skipped;
  try {
    const since =
      state.window_start ?? windowStart({ authorizedAt: run.mailbox.lastAuthorizedAt, firstAuthorizedAt: run.mailbox.firstAuthorizedAt, ...(deps.legacy ? { legacy: deps.legacy } : {}) });
    const now = clock.now();
    const sync: SyncContext = { kind: 'historical', now, windowStart: since };
    // All of the candidate's mail is listed first (it is one person's mail), so every thread's activity is known
    // before any of its messages is decided.
    const listed = new Map<string, MessageFacts>();
    let checkpoint: Record<string, unknown> | null = null;
    do {
      run.lease?.check();
      const page = await withRetry(run, (token) => run.client.addressPage(token, { addresses, since, checkpoint }));
      for (const m of page.messages) listed.set(m.providerMessageId, m);
      checkpoint = page.checkpoint;
    } while (checkpoint !== null);

    const cutoff = activityCutoff(now).getTime();
    const activity = new Map<string, number>();
    for (const m of listed.values()) {
      const t = m.date.getTime();
      if (m.isDraft || Number.isNaN(t) || t < cutoff) continue;
      activity.set(m.providerThreadId, Math.max(activity.get(m.providerThreadId) ?? t, t));
    }
    const facts = [...listed.values()].map((m) => {
      const t = activity.get(m.providerThreadId);
      return t === undefined ? m : { ...m, threadLastActivityAt: new Date(t) };
    });
    let ingested = 0;
    for (let i = 0; i < facts.length; i += CHUNK) {
      run.lease?.check();
      ingested += await processMessages(run, facts.slice(i, i + CHUNK), sync);
    }
    await refreshCounts(db, run.mailbox, { updated_at: clock.now() }, run.lease);
    return { outcome: 'completed', examined: facts.length, ingested };
  } catch (error) {
    return { outcome: await settle(deps, authorizationId, error, run.lease), examined: 0, ingested: 0 };
  }
}

/**
 * `candidate.backfill`: without a grant, fans out one job per authorized email grant of the contract (each then
 * waits for its own grant's lease alone); with one, runs that grant's backfill.
 */
export function registerBackfillWorker(jobs: Jobs, deps: SyncDeps, log: Pick<Logger, 'info' | 'debug'>): void {
  jobs.work('candidate.backfill', async ({ contractId, candidateId, authorizationId }, job) => {
    if (authorizationId === undefined) {
      const grants = await deps.db
        .selectFrom('mailbox_authorizations')
        .select('id')
        .where('contract_id', '=', contractId)
        .where('kind', '=', 'email')
        .where('state', '=', 'authorized')
        .execute();
      for (const grant of grants) {
        await jobs.send('candidate.backfill', { contractId, candidateId, authorizationId: grant.id }, { singletonKey: `candidate.backfill:${grant.id}:${candidateId}` });
      }
      return;
    }
    let result: BackfillResult;
    try {
      result = await runCandidateBackfill(deps, authorizationId, candidateId);
    } catch (error) {
      if (error instanceof RetryLaterError || job.attempt <= QUEUES['candidate.backfill'].policy.retryLimit) throw error;
      throw new RetryLaterError(new Date(deps.clock.now().getTime() + COME_BACK_MS), `backfill retries spent: ${(error as Error).message}`);
    }
    if (result.outcome !== 'skipped') log.info({ authorizationId, candidateId, ...result }, 'candidate backfill run (R-39)');
    // A permanent provider error is in the sync state (sync health); the backfill itself is tried again later.
    if (result.outcome === 'failed') throw new RetryLaterError(new Date(deps.clock.now().getTime() + COME_BACK_MS), 'backfill refused by the provider');
  });
}

/**
 * R-39 across a gap: changes to candidates made while the grant was not syncing (deauthorized, refused, or in the
 * middle of a historical scan that keeps the addresses it began with) found no authorized seat to backfill. When
 * the grant syncs again from where it was, every candidate of the contract changed since then is backfilled in it.
 */
export async function requestGapBackfills(ctx: ServiceContext, jobs: Pick<Jobs, 'send'>, authorizationId: string): Promise<number> {
  const grant = await ctx.db
    .selectFrom('mailbox_authorizations as a')
    .innerJoin('seats as s', 's.id', 'a.seat_id')
    .innerJoin('sync_states as st', 'st.authorization_id', 'a.id')
    .select(['a.contract_id', 's.user_id', 'st.phase', 'st.last_synced_at', 'st.historical_started_at'])
    .where('a.id', '=', authorizationId)
    .executeTakeFirst();
  if (!grant) return 0;
  const since = grant.phase === 'incremental' ? (grant.last_synced_at ?? grant.historical_started_at) : grant.phase === 'historical' ? grant.historical_started_at : null;
  if (!since) return 0;
  const contractId = grant.contract_id;
  const changed = new Set<string>();
  const rows = await Promise.all([
    ctx.db
      .selectFrom('project_candidates as pc')
      .innerJoin('projects as p', 'p.id', 'pc.project_id')
      .select('pc.candidate_id')
      .where('pc.contract_id', '=', contractId)
      .where('p.status', '=', 'active')
      .where((eb) => eb.or([eb('pc.added_at', '>', since), eb('p.updated_at', '>', since)]))
      .execute(),
    ctx.db.selectFrom('candidate_emails').select('candidate_id').where('contract_id', '=', contractId).where('added_at', '>', since).execute(),
    ctx.db.selectFrom('candidates').select('id as candidate_id').where('contract_id', '=', contractId).where('updated_at', '>', since).execute(),
    grant.user_id === null
      ? Promise.resolve([])
      : ctx.db.selectFrom('candidate_connections').select('candidate_id').where('contract_id', '=', contractId).where('user_id', '=', grant.user_id).where('updated_at', '>', since).execute(),
  ]);
  for (const list of rows) for (const r of list) changed.add(r.candidate_id);
  for (const candidateId of changed) {
    await jobs.send('candidate.backfill', { contractId, candidateId, authorizationId }, { singletonKey: `candidate.backfill:${authorizationId}:${candidateId}` });
  }
  return changed.size;
}
