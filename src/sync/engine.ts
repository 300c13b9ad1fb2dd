/**
 * The sync engine: historical sync, incremental sync, deletions
 * and cursor recovery with reconciliation. Provider differences stay behind `MailClient`; the rules
 * stay in the domain (through sync/ingest); this file only orders the work and keeps the checkpoints.
 */
import { sql, type Kysely } from 'kysely';
import { discoveryAdmits, activityCutoff, r37DeletedAtSource, windowStart, type LegacyWindow, type SyncContext } from '../domain/ingestion/index.ts';
import { normalizeAddress } from '../domain/addresses.ts';
import { AppError } from '../errors.ts';
import { RetryLaterError } from '../jobs/index.ts';
import { withQuotaScope, type QuotaScope } from '../providers/budget.ts';
import { ProviderError } from '../providers/errors.ts';
import type { HistoricalScanPage, MailClient, MailProviders, Opaque } from '../providers/mail.ts';
import { forgetAccessToken, heldAccessToken, reauthorizationMessage } from '../services/access-tokens.ts';
import { recordAudit } from '../services/audit.ts';
import type { MailboxDeps } from '../services/mailbox-authorization.ts';
import type { DB } from '../store/schema.ts';
import { CandidateCache, decideBatch, deleteMessageAtSource, ingestBatch, loadSeatMailbox, type IngestItem, type MessageFacts, type SeatMailbox } from './ingest/index.ts';
import { runBudgetScope, withMailboxBudget } from './quota-budget.ts';
import { busy, DEFAULT_RUN_LEASE_MS, isLease, tryAcquireRunLease, type RunKind, type RunLease, type SyncStateRow } from './lock.ts';

export interface SyncDeps extends MailboxDeps {
  mail: MailProviders;
  /** R-35 legacy cut-off (configuration); the domain's defaults when absent. */
  legacy?: LegacyWindow | undefined;
  /** How long a run's lease on its grant lasts without renewal (`lock.ts`); two minutes when absent. */
  runLeaseMs?: number | undefined;
}

/** Waits longer than this are not slept through: the job is put back for later by the product clock. */
const MAX_INLINE_WAIT_MS = 2_000;
const ATTEMPTS = 4;
/** Pages per incremental run; a run that has more hands over to the next one. */
const INCREMENTAL_PAGES = 50;
const CHUNK = 100;
/** Messages a historical sync gathers from its pages before deciding and storing them together. */
const HISTORICAL_BATCH = 500;
/** A page that takes longer than this to come has the pages read before it stored meanwhile. */
const SLOW_PAGE_MS = 1_000;

/** Whether `promise` settles (either way) within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

type Db = Kysely<DB>;

export interface Run {
  deps: SyncDeps;
  authorizationId: string;
  mailbox: SeatMailbox;
  client: MailClient;
  candidates: CandidateCache;
  /** The run's hold on its grant; checked at every page boundary. */
  lease?: RunLease;
  /** The mailbox the grant reads now: a cursor issued for another one is never used. */
  identity?: CursorIdentity;
  /** the run's reservation on the mailbox's quota budget, which every call of the run spends from. */
  quota?: QuotaScope;
  /** The grant's sync state as the run's lease was taken. */
  state?: SyncStateRow;
}

/** What a run needs of its grant, read once when the run opens (or by its caller with what it checks first). */
export interface RunGrant {
  seat_id: string;
  state: 'not_authorized' | 'authorized' | 'needs_reauthorization' | 'deauthorized';
  kind: 'email' | 'calendar';
  provider: 'google' | 'microsoft';
  address: string | null;
}

/** A provider and a mailbox address (lower case): what a cursor belongs to. */
export interface CursorIdentity {
  provider: 'google' | 'microsoft';
  address: string | null;
}

/** `failed`: a permanent provider error, recorded in the sync state (sync health) and not retried by the job. */
export type SyncOutcome = 'completed' | 'skipped' | 'resynced' | 'stopped' | 'failed';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One provider call with the handling of its error class: throttled → wait Retry-After (short
 * waits here, long ones by re-queueing the job); transient → a few quick retries with back-off; other kinds
 * go to the caller. A fresh token is asked for each attempt, so a refresh in between is picked up.
 */
export async function withRetry<T>(run: Run, call: (accessToken: string) => Promise<T>): Promise<T> {
  let renewed = false;
  for (let attempt = 1; ; attempt++) {
    // Held in the process until shortly before it expires: the run checks its grant before every page and batch.
    const token = await heldAccessToken(run.deps, run.authorizationId, run.mailbox.lastAuthorizedAt);
    try {
      // every call of the run draws on the mailbox's quota budget, shared with every other process.
      return await (run.quota ? withQuotaScope(run.quota, () => call(token)) : withMailboxBudget(run.deps, run.mailbox.provider, run.identity?.address ?? null, run.authorizationId, () => call(token)));
    } catch (error) {
      if (error instanceof ProviderError && error.kind === 'auth' && !renewed) {
        // The access token was refused before its time (revoked, sessions ended): one renewal decides whether
        // the grant still stands; a refused renewal marks it needs_reauthorization.
        renewed = true;
        forgetAccessToken(run.authorizationId);
        await expireAccessToken(run.deps, run.authorizationId);
        continue;
      }
      if (error instanceof ProviderError && (error.kind === 'auth' || error.kind === 'consent')) {
        forgetAccessToken(run.authorizationId);
        await refuseGrant(run.deps, run.authorizationId, error);
        throw new AppError('needs_reauthorization', reauthorizationMessage(refusalReason(run.mailbox.provider, error)));
      }
      if (!(error instanceof ProviderError) || (error.kind !== 'throttled' && error.kind !== 'transient')) throw error;
      const waitMs = error.details.retryAfterSeconds !== undefined ? error.details.retryAfterSeconds * 1000 : 100 * 2 ** attempt;
      if (error.kind === 'throttled' && (waitMs > MAX_INLINE_WAIT_MS || attempt >= ATTEMPTS)) {
        throw new RetryLaterError(new Date(run.deps.clock.now().getTime() + Math.max(waitMs, 1000)), `provider throttled: ${error.message}`);
      }
      if (attempt >= ATTEMPTS) throw error;
      await sleep(Math.min(waitMs, MAX_INLINE_WAIT_MS));
    }
  }
}

async function expireAccessToken(deps: SyncDeps, authorizationId: string): Promise<void> {
  await deps.db.updateTable('mailbox_authorizations').set({ access_token_expires_at: deps.clock.now() }).where('id', '=', authorizationId).where('state', '=', 'authorized').execute();
}

const refusalReason = (provider: 'google' | 'microsoft', error: ProviderError): string =>
  `${provider === 'google' ? 'Google' : 'Microsoft'} refused access to the mailbox: ${error.message}`;

/** A grant the provider refuses even with a fresh token: needs_reauthorization, tokens dropped, syncing stops. */
async function refuseGrant(deps: SyncDeps, authorizationId: string, error: ProviderError): Promise<void> {
  const now = deps.clock.now();
  await deps.db.transaction().execute(async (trx) => {
    const grant = await trx.selectFrom('mailbox_authorizations').select(['contract_id', 'seat_id', 'provider']).where('id', '=', authorizationId).where('state', '=', 'authorized').forUpdate().executeTakeFirst();
    if (!grant) return;
    await trx
      .updateTable('mailbox_authorizations')
      // deauthorized_at: when syncing stopped, which R-23's six months count from.
      .set({ state: 'needs_reauthorization', state_reason: refusalReason(grant.provider, error), access_token_ciphertext: null, access_token_expires_at: null, deauthorized_at: now, updated_at: now })
      .where('id', '=', authorizationId)
      .execute();
    await recordAudit(trx, { contractId: grant.contract_id, actor: 'system', action: 'authorization.needs_reauthorization', targetType: 'seat', targetId: grant.seat_id, at: now, details: { provider: grant.provider, providerCode: error.details.providerCode ?? null } });
  });
}

async function openRun(deps: SyncDeps, authorizationId: string, known?: RunGrant): Promise<Run | null> {
  const grant = known ?? (await deps.db.selectFrom('mailbox_authorizations').select(['seat_id', 'state', 'kind', 'provider', 'address']).where('id', '=', authorizationId).executeTakeFirst());
  if (!grant || grant.kind !== 'email' || grant.state !== 'authorized') {
    forgetAccessToken(authorizationId);
    return null;
  }
  const mailbox = await loadSeatMailbox(deps.db, grant.seat_id);
  const identity: CursorIdentity = { provider: grant.provider, address: grant.address === null ? null : grant.address.trim().toLowerCase() };
  return { deps, authorizationId, mailbox, client: deps.mail.client(grant.provider), candidates: new CandidateCache(deps.db), identity };
}

/**
 * the sync state's cursor and scan checkpoint belong to the provider and mailbox that issued them. A grant
 * re-authorized at another provider, or with another mailbox, starts over: the state goes back to idle, so the next
 * historical sync takes its window from this authorization. What was stored stays. Returns whether
 * the state was reset.
 */
export async function forgetForeignCursor(run: Run, state: { phase: string; cursor_provider: string | null; cursor_address: string | null }): Promise<boolean> {
  const identity = run.identity;
  if (!identity || state.phase === 'idle' || state.cursor_provider === null) return false;
  if (state.cursor_provider === identity.provider && (state.cursor_address === null || identity.address === null || state.cursor_address === identity.address)) return false;
  await saveRunState(run, { phase: 'idle', cursor: null, checkpoint: null, window_start: null, historical_started_at: null, historical_completed_at: null, cursor_provider: null, cursor_address: null, cursor_since: null, updated_at: run.deps.clock.now() });
  return true;
}

/**
 * A write of the run's saved position (cursor, checkpoint, phase, counts): fenced on the run's lease, so a run that
 * lost the grant to another (its process stalled past the lease) writes nothing and stops (`LeaseLostError`).
 */
async function saveRunState(run: Run, set: Parameters<RunLease['save']>[1], options?: { release?: boolean }): Promise<void> {
  if (run.lease) await run.lease.save(run.deps.db, set, options);
  else await run.deps.db.updateTable('sync_states').set(set).where('authorization_id', '=', run.authorizationId).execute();
}

async function ensureState(db: Db, mailbox: SeatMailbox, now: Date) {
  await db
    .insertInto('sync_states')
    .values({ authorization_id: mailbox.authorizationId, contract_id: mailbox.contractId, seat_id: mailbox.seatId, phase: 'idle', updated_at: now })
    .onConflict((oc) => oc.column('authorization_id').doNothing())
    .execute();
  return db.selectFrom('sync_states').selectAll().where('authorization_id', '=', mailbox.authorizationId).executeTakeFirstOrThrow();
}

/**
 * Runs `body` holding the grant's run lease (`lock.ts`): historical, incremental and backfill runs of one grant
 * never overlap, in this process or another. A grant held by another run throws `RetryLaterError`, so the job
 * comes back once the holder is likely done instead of being lost.
 */
export async function withRunLock<T>(deps: SyncDeps, authorizationId: string, kind: RunKind, body: (run: Run) => Promise<T>, grant?: RunGrant): Promise<T | 'skipped'> {
  const run = await openRun(deps, authorizationId, grant);
  if (!run) return 'skipped';
  const leaseMs = deps.runLeaseMs ?? DEFAULT_RUN_LEASE_MS;
  let lease = await tryAcquireRunLease(deps.db, deps.clock, authorizationId, kind, leaseMs);
  // A grant's first run: its sync state row is made, then the lease taken.
  if (!isLease(lease) && !lease.exists) {
    await ensureState(deps.db, run.mailbox, deps.clock.now());
    lease = await tryAcquireRunLease(deps.db, deps.clock, authorizationId, kind, leaseMs);
  }
  if (!isLease(lease)) throw busy(lease, deps.clock.now());
  run.state = lease.state;
  // one reservation on the mailbox's budget for the whole run, given back at its end.
  run.quota = runBudgetScope(deps, run.mailbox.provider, run.identity?.address ?? null, authorizationId);
  try {
    run.lease = lease;
    return await body(run);
  } finally {
    try {
      await run.quota.reservation?.close();
    } catch {
      // What the run held leaves the window with its slot, and its places in flight lapse with their lease.
    }
    await lease.release();
  }
}

/** Whether a live run holds the grant (its lease has not lapsed). */
export async function runInProgress(db: Db, authorizationId: string): Promise<boolean> {
  const row = await db
    .selectFrom('sync_states')
    .select((eb) => eb(eb.ref('run_lease_until'), '>', eb.fn<Date>('clock_timestamp')).as('live'))
    .where('authorization_id', '=', authorizationId)
    .executeTakeFirst();
  return row?.live === true;
}

/**
 * Addresses whose mail can qualify: emails of pipeline candidates whose discovery setting admits the seat holder
 * and counterparts of threads started from the product (exempt from both). Asking the provider
 * for these only is what keeps a historical sync from reading the whole mailbox.
 */
export async function qualifyingAddresses(run: Run): Promise<string[]> {
  const { db } = run.deps;
  const lookup = await run.candidates.lookupFor(run.mailbox.contractId, run.mailbox.holderUserId);
  const normalized = new Set<string>();
  for (const [address, matches] of lookup) {
    if (matches.some((m) => m.inPipeline && discoveryAdmits(m.emailDiscovery, m.ownerDegree))) normalized.add(address);
  }
  const out = new Set(normalized);
  const list = [...normalized];
  for (let i = 0; i < list.length; i += 500) {
    // The address as written too (a `+tag` the provider matches literally).
    const rows = await db.selectFrom('candidate_emails').select('address').where('contract_id', '=', run.mailbox.contractId).where('normalized', 'in', list.slice(i, i + 500)).execute();
    for (const r of rows) out.add(r.address.trim().toLowerCase());
  }
  const initiated = await db.selectFrom('mail_threads').select('counterpart').where('owner_seat_id', '=', run.mailbox.seatId).where('initiated_through_product', '=', true).execute();
  for (const t of initiated) if (t.counterpart) out.add(normalizeAddress(t.counterpart));
  return [...out].sort();
}

/**
 * Decides a page of header facts, fetches the MIME of the messages the rules let in and that are not stored yet
 * and stores them with every decision of the page in one transaction. Returns how many the rules
 * let in.
 */
export async function processMessages(run: Run, facts: readonly MessageFacts[], sync: SyncContext): Promise<number> {
  if (facts.length === 0) return 0;
  const { db } = run.deps;
  const candidates = await run.candidates.lookupFor(run.mailbox.contractId, run.mailbox.holderUserId);
  const decisions = await decideBatch(db, run.mailbox.seatId, facts, { owner: run.mailbox.owner, candidates, sync });
  const ingestedIds = [...new Set(facts.filter((_, i) => decisions[i]!.ingested).map((f) => f.providerMessageId))];
  const stored = new Set<string>();
  for (let i = 0; i < ingestedIds.length; i += 500) {
    const rows = await db.selectFrom('mail_messages').select('provider_message_id').where('owner_seat_id', '=', run.mailbox.seatId).where('provider_message_id', 'in', ingestedIds.slice(i, i + 500)).execute();
    for (const r of rows) stored.add(r.provider_message_id);
  }
  const needed = ingestedIds.filter((id) => !stored.has(id));
  const raw = new Map<string, Uint8Array>();
  for (let i = 0; i < needed.length; i += CHUNK) {
    const part = await withRetry(run, (token) => run.client.raw(token, needed.slice(i, i + CHUNK)));
    for (const [id, bytes] of part) raw.set(id, bytes);
  }
  const items: IngestItem[] = [];
  for (const [i, f] of facts.entries()) {
    const decision = decisions[i]!;
    if (!decision.ingested) {
      items.push({ facts: f, decision });
      continue;
    }
    // Already stored (a resumed page, a repeated change): nothing to fetch, nothing to write again.
    if (stored.has(f.providerMessageId)) continue;
    const bytes = raw.get(f.providerMessageId);
    // Gone between the listing and the fetch: the deletion shows up in the next changes.
    if (bytes === undefined) continue;
    items.push({ facts: f, decision, raw: bytes });
  }
  // Committed only while the run still holds the grant (a stalled run's stale page must not come back after a takeover).
  if (items.length > 0) await ingestBatch(db, run.mailbox, items, run.deps.clock.now(), run.lease ? { fence: (trx) => run.lease!.hold(trx) } : undefined);
  return ingestedIds.length;
}

/**
 * Counts the seat's decisions and synced messages exactly, once at the end of a historical sync or a backfill; in
 * between, the writes that change them keep them (`ingestBatch`, `deleteMessageAtSource`). With the run's lease, the
 * write is fenced on it (`RunLease.save`).
 */
export async function refreshCounts(db: Db, mailbox: SeatMailbox, set: Record<string, unknown>, lease?: RunLease): Promise<void> {
  const [examined, ingested] = await Promise.all([
    db.selectFrom('ingestion_decisions').select((eb) => eb.fn.countAll<string>().as('n')).where('seat_id', '=', mailbox.seatId).executeTakeFirstOrThrow(),
    db.selectFrom('mail_messages').select((eb) => eb.fn.countAll<string>().as('n')).where('owner_seat_id', '=', mailbox.seatId).where('origin', '=', 'synced').executeTakeFirstOrThrow(),
  ]);
  const values = { ...set, messages_examined: Number(examined.n), messages_ingested: Number(ingested.n) };
  if (lease) await lease.save(db, values);
  else await db.updateTable('sync_states').set(values).where('authorization_id', '=', mailbox.authorizationId).execute();
}

async function recordError(deps: SyncDeps, authorizationId: string, error: unknown, lease?: RunLease): Promise<void> {
  const kind = error instanceof ProviderError ? error.kind : error instanceof AppError ? error.code : 'internal';
  const message = (error as Error).message?.slice(0, 500) ?? String(error);
  const set = { last_error: message, last_error_kind: kind, updated_at: deps.clock.now() };
  if (lease) await lease.save(deps.db, set);
  else await deps.db.updateTable('sync_states').set(set).where('authorization_id', '=', authorizationId).execute();
}

/** Grant refused or disconnected: syncing stops; nothing is retried until the seat reconnects. */
const stopsSync = (error: unknown): boolean =>
  (error instanceof AppError && (error.code === 'needs_reauthorization' || error.code === 'not_authorized')) || (error instanceof ProviderError && (error.kind === 'auth' || error.kind === 'consent'));

interface HistoricalCheckpoint {
  scan: Opaque | null;
  /**
   * The qualifying addresses as the scan began: a resumed scan asks for the same ones, so its position in the
   * provider's listing still means the same. Candidates who qualify later are fetched by their own backfill.
   */
  addresses?: string[];
  /**
   * The scan stores page by page instead of in batches: set when the provider's quota sent a run back to the queue
   * (`slowDown` in `historical`).
   */
  pageByPage?: boolean;
  /** Threads seen active so far in this scan, with their latest activity. */
  threads: Record<string, string>;
  /**
   * A resync after an expired cursor: stored messages the provider no longer has are removed once the
   * scan has taken its new position (its last page), never before — a deletion made before the new position would
   * be missed by the new cursor, and one made before the reconcile would be missed by it. `reconciled` true: nothing
   * left to remove (done). A catch-up after re-authorization reconciles too: what was deleted while deauthorized is
   * marked and kept. `final`: the scan is over and this is its cursor;
   * a run stopped during the reconcile resumes there.
   */
  resync?: { reconciled: boolean; final?: { cursor: Opaque; estimate: number | null } };
  /**
   * a catch-up after re-authorization whose cursor the provider expired lists mail from here (the last sync,
   * less a day for mail that arrives late), not the whole window; storage is idempotent, so nothing is stored twice.
   */
  catchUpSince?: string;
}

/** Mail dated a little before the last sync may have arrived after it: a catch-up lists from this much earlier. */
const CATCH_UP_MARGIN_MS = 24 * 60 * 60 * 1000;

/**
 * Historical sync of one email grant: the R-35 window, active threads only, header facts first and
 * bodies only for ingested mail. Each page ends with the checkpoint in sync_states, so a killed worker
 * resumes where it stopped; storage is idempotent, so a repeated page adds nothing. At the end the cursor
 * is stored and the phase becomes incremental.
 */
export async function runHistoricalSync(deps: SyncDeps, authorizationId: string): Promise<SyncOutcome> {
  return withRunLock(deps, authorizationId, 'historical', historical);
}

async function historical(run: Run): Promise<SyncOutcome> {
  const { deps, authorizationId } = run;
  const { db, clock } = deps;
  let state = await ensureState(db, run.mailbox, clock.now());
  if (await forgetForeignCursor(run, state)) state = await ensureState(db, run.mailbox, clock.now());
  if (state.phase === 'incremental' && state.checkpoint === null) return 'skipped';
  try {
    if (state.phase !== 'historical') {
      const now = clock.now();
      const start = windowStart({ authorizedAt: run.mailbox.lastAuthorizedAt, firstAuthorizedAt: run.mailbox.firstAuthorizedAt, ...(deps.legacy ? { legacy: deps.legacy } : {}) });
      // The scan's positions and the cursor it ends with belong to this provider and mailbox.
      const identity = run.identity ?? { provider: run.mailbox.provider, address: null };
      await saveRunState(run, {
          phase: 'historical',
          window_start: start,
          historical_started_at: now,
          historical_completed_at: null,
          checkpoint: JSON.stringify({ scan: null, threads: {} }),
          cursor: null,
          cursor_provider: identity.provider,
          cursor_address: identity.address,
          // Compared with when mail was stored, by other processes too: the database's clock.
          cursor_since: sql<Date>`clock_timestamp()`,
          updated_at: now,
          last_error: null,
          last_error_kind: null,
        });
      state = await db.selectFrom('sync_states').selectAll().where('authorization_id', '=', authorizationId).executeTakeFirstOrThrow();
    }
    const checkpoint: HistoricalCheckpoint = (state.checkpoint as unknown as HistoricalCheckpoint | null) ?? { scan: null, threads: {} };
    checkpoint.threads ??= {};
    // The rules' window stays R-35's; only a catch-up lists from later.
    const since = checkpoint.catchUpSince ? new Date(checkpoint.catchUpSince) : state.window_start!;
    const syncNow = state.historical_started_at ?? clock.now();
    const sync: SyncContext = { kind: 'historical', now: syncNow, windowStart: state.window_start! };
    const cutoff = activityCutoff(syncNow).getTime();

    const finish = async (cursor: Opaque, estimate: number | null): Promise<SyncOutcome> => {
      const now = clock.now();
      await refreshCounts(
        db,
        run.mailbox,
        {
          phase: 'incremental',
          cursor: JSON.stringify(cursor),
          checkpoint: null,
          messages_estimated: estimate,
          historical_completed_at: now,
          last_synced_at: now,
          last_error: null,
          last_error_kind: null,
          updated_at: now,
        },
        run.lease,
      );
      return checkpoint.resync ? 'resynced' : 'completed';
    };
    /** The scan's position is taken: a pending reconcile runs now, its start saved first so a stopped run resumes here. */
    const reconcileThenFinish = async (cursor: Opaque, estimate: number | null): Promise<SyncOutcome> => {
      if (checkpoint.resync && !checkpoint.resync.reconciled) {
        checkpoint.resync = { reconciled: false, final: { cursor, estimate } };
        await saveRunState(run, { checkpoint: JSON.stringify(checkpoint), updated_at: clock.now() });
        run.lease?.check();
        if (!(await stillAuthorized(db, authorizationId))) return 'stopped';
        await reconcile(run, state.cursor_since);
      }
      return finish(cursor, estimate);
    };
    if (checkpoint.resync?.final) return await reconcileThenFinish(checkpoint.resync.final.cursor, checkpoint.resync.final.estimate);

    checkpoint.addresses ??= await qualifyingAddresses(run);
    const addresses = checkpoint.addresses;
    // Pages are gathered into a batch of about HISTORICAL_BATCH messages (a message listed by several address groups
    // once), decided and stored together. The checkpoint saved after the batch is the position after its last page:
    // a stopped run reads the batch's pages again, and storage being idempotent, nothing is stored twice.
    const batch = new Map<string, MessageFacts>();
    // threads first seen active since the last batch; their older messages decided before are revisited.
    const becameActive = new Set<string>();
    let estimate: number | null = null;
    const withActivity = (m: MessageFacts): MessageFacts => {
      const known = checkpoint.threads[m.providerThreadId];
      return known === undefined ? m : { ...m, threadLastActivityAt: new Date(known) };
    };
    const flush = async (): Promise<void> => {
      const messages = [...batch.values()];
      const threads = [...becameActive];
      batch.clear();
      becameActive.clear();
      await processMessages(run, messages.map(withActivity), sync);
      await revisitInactive(run, threads, messages, withActivity, sync);
    };
    // The counts are kept by the batch's own writes (`ingestBatch`).
    let saved = JSON.stringify(checkpoint);
    const save = async () => {
      const json = JSON.stringify(checkpoint);
      await saveRunState(run, { checkpoint: json, messages_estimated: estimate, updated_at: clock.now() });
      saved = json;
    };
    /**
     * The provider's quota holds the run back (it goes back to the queue until the window allows more): from here the
     * scan stores page by page, or each run would spend its window reading again the pages of a batch it cannot store.
     */
    const slowDown = async (error: unknown) => {
      if (Object.getPrototypeOf(error) !== RetryLaterError.prototype || checkpoint.pageByPage === true) return;
      await saveRunState(run, { checkpoint: JSON.stringify({ ...(JSON.parse(saved) as HistoricalCheckpoint), pageByPage: true }), updated_at: clock.now() });
    };
    const target = checkpoint.pageByPage === true ? 1 : HISTORICAL_BATCH;
    for (;;) {
      let page: HistoricalScanPage | undefined;
      let failure: unknown;
      try {
        try {
          do {
            run.lease?.check();
            if (!(await stillAuthorized(db, authorizationId))) return 'stopped';
            const activeThreads = (ids: readonly string[]) => knownActiveThreads(run, checkpoint.threads, ids, cutoff);
            const scan = checkpoint.scan;
            const reading = withRetry(run, (token) => run.client.historicalPage(token, { addresses, since, checkpoint: scan, activeSince: new Date(cutoff), activeThreads }));
            // A page slow to come: the pages read so far are stored and their position saved meanwhile.
            if (batch.size > 0 && !(await settlesWithin(reading, SLOW_PAGE_MS))) {
              await flush();
              await save();
            }
            const read = await reading;
            page = read;
            estimate = read.estimate;
            // the thread's latest activity as far as the scan has seen it (drafts are no activity).
            for (const m of read.messages) {
              if (!batch.has(m.providerMessageId)) batch.set(m.providerMessageId, m);
              const t = m.date.getTime();
              if (m.isDraft || Number.isNaN(t) || t < cutoff) continue;
              const known = checkpoint.threads[m.providerThreadId];
              if (known === undefined) becameActive.add(m.providerThreadId);
              if (known === undefined || Date.parse(known) < t) checkpoint.threads[m.providerThreadId] = m.date.toISOString();
            }
            checkpoint.scan = read.checkpoint;
          } while (page.checkpoint !== null && batch.size < target);
        } catch (error) {
          // A page the provider does not give now: the pages read before it are stored and their position saved first.
          if (batch.size === 0 || !(error instanceof ProviderError || error instanceof RetryLaterError)) throw error;
          failure = error;
        }
        await flush();
      } catch (error) {
        await slowDown(error);
        throw error;
      }
      if (failure === undefined && page !== undefined && page.checkpoint === null) return await reconcileThenFinish(page.cursor ?? {}, page.estimate);
      await save();
      if (failure !== undefined) {
        await slowDown(failure);
        throw failure;
      }
    }
  } catch (error) {
    return settle(deps, authorizationId, error, run.lease);
  }
}

/**
 * How a run ends after an error: a wait (`RetryLaterError`) goes back to the job queue; anything else is
 * recorded in the sync state first. Refusals stop syncing; a permanent error is surfaced (sync health) and not
 * retried by the job; transient failures are thrown, so the job's own retry resumes from the checkpoint.
 */
export async function settle(deps: SyncDeps, authorizationId: string, error: unknown, lease?: RunLease): Promise<SyncOutcome> {
  if (error instanceof RetryLaterError) throw error;
  await recordError(deps, authorizationId, error, lease);
  if (stopsSync(error)) return 'stopped';
  if (error instanceof ProviderError && error.kind === 'permanent') return 'failed';
  throw error;
}

/**
 * R-36 for a scan that reads older mail only for active threads: of these threads, those the scan has seen active so
 * far, or stored with activity since the cut-off (as `decideMessage` counts a stored thread's activity).
 */
async function knownActiveThreads(run: Run, seen: Readonly<Record<string, string>>, ids: readonly string[], cutoff: number): Promise<Set<string>> {
  const active = new Set(ids.filter((id) => seen[id] !== undefined));
  const rest = ids.filter((id) => !active.has(id));
  for (let i = 0; i < rest.length; i += 500) {
    const rows = await run.deps.db
      .selectFrom('mail_threads')
      .select('provider_thread_id')
      .where('owner_seat_id', '=', run.mailbox.seatId)
      .where('provider_thread_id', 'in', rest.slice(i, i + 500))
      .where('last_activity_at', '>=', new Date(cutoff))
      .execute();
    for (const r of rows) active.add(r.provider_thread_id);
  }
  return active;
}

/**
 * A thread whose recent message is listed after its older ones (another folder, another address group) had those
 * older ones decided as inactive. Now that it is known to be active they are decided again, from fresh
 * header facts, without their bodies unless they are ingested.
 */
async function revisitInactive(run: Run, threads: string[], page: readonly MessageFacts[], withActivity: (m: MessageFacts) => MessageFacts, sync: SyncContext): Promise<void> {
  if (threads.length === 0) return;
  const onPage = new Set(page.map((m) => m.providerMessageId));
  const ids: string[] = [];
  for (let i = 0; i < threads.length; i += 500) {
    const rows = await run.deps.db
      .selectFrom('ingestion_decisions')
      .select('provider_message_id')
      .where('seat_id', '=', run.mailbox.seatId)
      .where('rule', '=', 'R-36')
      .where('provider_thread_id', 'in', threads.slice(i, i + 500))
      .execute();
    for (const r of rows) if (!onPage.has(r.provider_message_id)) ids.push(r.provider_message_id);
  }
  for (let i = 0; i < ids.length; i += CHUNK) {
    const facts = await withRetry(run, (token) => run.client.headers(token, ids.slice(i, i + CHUNK)));
    await processMessages(run, [...facts.values()].map(withActivity), sync);
  }
}

async function stillAuthorized(db: Db, authorizationId: string): Promise<boolean> {
  const row = await db.selectFrom('mailbox_authorizations').select('state').where('id', '=', authorizationId).executeTakeFirst();
  if (row?.state === 'authorized') return true;
  forgetAccessToken(authorizationId);
  return false;
}

/** R-37 with R-22: mirror deletions only while the grant is authorized. */
async function mirrorDeletions(run: Run, ids: readonly string[], madeWhileDeauthorized = false): Promise<number> {
  if (ids.length === 0) return 0;
  const { db, clock } = run.deps;
  const grant = await db.selectFrom('mailbox_authorizations').select(['state', 'last_authorized_at']).where('id', '=', run.authorizationId).executeTakeFirstOrThrow();
  const verdict = r37DeletedAtSource({ authorizationState: grant.state, authorizedAt: grant.last_authorized_at, deletedAt: null, madeWhileDeauthorized });
  if (!verdict.mirror) return 0;
  // Only messages the product knows of: stored, or with a decision to annotate.
  const known = new Set<string>();
  const unique = [...new Set(ids)];
  for (let i = 0; i < unique.length; i += 500) {
    const chunk = unique.slice(i, i + 500);
    const [messages, decisions] = await Promise.all([
      db.selectFrom('mail_messages').select(['provider_message_id', 'source_deleted_while_deauthorized_at']).where('owner_seat_id', '=', run.mailbox.seatId).where('provider_message_id', 'in', chunk).execute(),
      db.selectFrom('ingestion_decisions').select('provider_message_id').where('seat_id', '=', run.mailbox.seatId).where('provider_message_id', 'in', chunk).execute(),
    ]);
    for (const r of [...messages, ...decisions]) known.add(r.provider_message_id);
    // a message found gone when the grant came back was deleted while it was not authorized: it stays.
    for (const r of messages) if (r.source_deleted_while_deauthorized_at !== null) known.delete(r.provider_message_id);
  }
  let deleted = 0;
  for (const id of known) {
    const result = await db.transaction().execute(async (trx) => {
      await run.lease?.hold(trx);
      return deleteMessageAtSource(trx, run.mailbox.seatId, id, clock.now());
    });
    if (result.messageDeleted) deleted++;
  }
  return deleted;
}

/**
 * After an expired cursor, once the resync's new position is taken: stored messages the provider no longer has (or
 * has in Trash) are removed. Every stored message is asked about, not only those stored before the resync
 * began by this process's clock: each worker process has its own product clock, and one running ahead stores mail
 * "after" a resync another one begins; removing what the changes would also report is harmless.
 */
async function reconcile(run: Run, identitySince: Date | null): Promise<void> {
  let query = run.deps.db
    .selectFrom('mail_messages')
    .select('provider_message_id')
    .where('owner_seat_id', '=', run.mailbox.seatId)
    .where('origin', '=', 'synced')
    .where('source_deleted_while_deauthorized_at', 'is', null);
  // Mail stored from another provider or mailbox before a change is not this mailbox's to take back.
  // Both times are the database's: a worker's own clock may run behind the one that began the scan.
  if (identitySince !== null) query = query.where('recorded_at', '>=', identitySince);
  const rows = await query.execute();
  const ids = rows.map((r) => r.provider_message_id);
  for (let i = 0; i < ids.length; i += CHUNK) {
    const chunk = ids.slice(i, i + CHUNK);
    const present = await withRetry(run, (token) => run.client.headers(token, chunk));
    const gone = chunk.filter((id) => {
      const facts = present.get(id);
      return facts === undefined || facts.isTrashed === true;
    });
    await mirrorDeletions(run, gone);
  }
}

/**
 * R-22 with R-23: the first run after a re-authorization, before it reads any change, asks the provider which stored
 * messages of the seat it still has. Those gone (or in Trash) were deleted while the grant was not authorized: they are
 * marked and stay, whatever the changes, delta or a reconcile say of them later. Every other stored message is there
 * now, so its deletion — necessarily after the re-authorization — is mirrored as usual, during the catch-up too.
 */
async function retainGapDeletions(run: Run): Promise<void> {
  const { db, clock } = run.deps;
  const rows = await db
    .selectFrom('mail_messages')
    .select('provider_message_id')
    .where('owner_seat_id', '=', run.mailbox.seatId)
    .where('origin', '=', 'synced')
    .where('source_deleted_while_deauthorized_at', 'is', null)
    .execute();
  const ids = rows.map((r) => r.provider_message_id);
  for (let i = 0; i < ids.length; i += CHUNK) {
    run.lease?.check();
    const chunk = ids.slice(i, i + CHUNK);
    const present = await withRetry(run, (token) => run.client.headers(token, chunk));
    const gone = chunk.filter((id) => {
      const facts = present.get(id);
      return facts === undefined || facts.isTrashed === true;
    });
    if (gone.length === 0) continue;
    await db.transaction().execute(async (trx) => {
      await run.lease?.hold(trx);
      await trx
        .updateTable('mail_messages')
        .set({ source_deleted_while_deauthorized_at: clock.now() })
        .where('owner_seat_id', '=', run.mailbox.seatId)
        .where('provider_message_id', 'in', gone)
        .execute();
    });
  }
}

/**
 * Incremental sync from the stored cursor: new mail decided and ingested, deletions mirrored, the
 * cursor saved after every page. An expired cursor turns into a full resync with reconciliation.
 */
export async function runIncrementalSync(deps: SyncDeps, authorizationId: string, known?: { grant: RunGrant; phase: string | null; hasCursor: boolean }): Promise<SyncOutcome> {
  // Nothing to do before a historical sync has finished: no need to wait for the grant's lease then. A caller that
  // has read the grant and its sync state (the job's handler) passes them, so they are not read again.
  if (known) {
    if (known.phase !== 'incremental' || !known.hasCursor) return 'skipped';
  } else {
    const before = await deps.db.selectFrom('sync_states').select(['phase', 'cursor']).where('authorization_id', '=', authorizationId).executeTakeFirst();
    if (!before || before.phase !== 'incremental' || !before.cursor) return 'skipped';
  }
  return withRunLock(deps, authorizationId, 'incremental', incremental, known?.grant);
}

async function incremental(run: Run): Promise<SyncOutcome> {
  const { deps, authorizationId } = run;
  const { db, clock } = deps;
  // The sync state as the lease was taken: no other run can have changed it since.
  const state = run.state ?? (await db.selectFrom('sync_states').selectAll().where('authorization_id', '=', authorizationId).executeTakeFirst());
  if (!state || state.phase !== 'incremental' || !state.cursor) return 'skipped';
  // A cursor of another provider or mailbox: a historical sync of this one, in this run under its lease.
  if (await forgetForeignCursor(run, state)) return historical(run);
  let cursor = state.cursor as Opaque;
  // The first run after a re-authorization reads changes made while deauthorized: their deletions are not
  // mirrored, those made since are. The messages deleted in between are marked first.
  const checkpoint = state.checkpoint as { catchUp?: { reauthorizedAt?: string; checked?: boolean } } | null;
  const catchUp = checkpoint?.catchUp !== undefined;
  try {
    if (catchUp && checkpoint.catchUp!.checked !== true) {
      if (!(await stillAuthorized(db, authorizationId))) return 'stopped';
      await retainGapDeletions(run);
      await saveRunState(run, { checkpoint: JSON.stringify({ catchUp: { ...checkpoint.catchUp, checked: true } }), updated_at: clock.now() });
    }
    for (let pages = 0; pages < INCREMENTAL_PAGES; pages++) {
      run.lease?.check();
      // the grant was found authorized as the run opened, just before its first page; later pages ask again.
      if ((pages > 0 || catchUp) && !(await stillAuthorized(db, authorizationId))) return 'stopped';
      const page = await withRetry(run, (token) => run.client.changesPage(token, cursor));
      await processMessages(run, page.added, { kind: 'incremental', now: clock.now() });
      await mirrorDeletions(run, page.removed);
      cursor = page.cursor;
      // A page that brought nothing leaves nothing to resume after: its cursor is saved with the next page's (read
      // again after a crash, it adds nothing, R-26).
      if (page.more && page.added.length === 0 && page.removed.length === 0 && pages + 1 < INCREMENTAL_PAGES) continue;
      const now = clock.now();
      // The counts are kept by the page's own writes (`ingestBatch`, `deleteMessageAtSource`). The run's last write
      // ends its lease too.
      await saveRunState(
        run,
        {
          cursor: JSON.stringify(cursor),
          updated_at: now,
          ...(page.more ? {} : { last_synced_at: now, last_error: null, last_error_kind: null, ...(catchUp ? { checkpoint: null } : {}) }),
        },
        { release: !page.more },
      );
      if (!page.more) return 'completed';
    }
    return 'completed';
  } catch (error) {
    if (error instanceof ProviderError && error.kind === 'cursor_expired') {
      // Back to a full scan of the window; reconciliation, once the scan has its new position, removes what the provider no longer has —
      // in a catch-up after re-authorization too: the messages deleted while deauthorized were marked above and stay.
      const now = clock.now();
      // a catch-up lists from the last sync time, not the whole window.
      const lastSync = state.last_synced_at ?? state.historical_completed_at;
      const from = catchUp && lastSync && state.window_start ? new Date(Math.max(state.window_start.getTime(), lastSync.getTime() - CATCH_UP_MARGIN_MS)) : null;
      const resync: HistoricalCheckpoint = { scan: null, threads: {}, resync: { reconciled: false }, ...(from ? { catchUpSince: from.toISOString() } : {}) };
      await saveRunState(run, { phase: 'historical', cursor: null, checkpoint: JSON.stringify(resync), historical_started_at: now, historical_completed_at: null, last_error: error.message, last_error_kind: error.kind, updated_at: now });
      // The same run goes on with the scan, under the lease it holds.
      const outcome = await historical(run);
      return outcome === 'completed' || outcome === 'resynced' ? 'resynced' : outcome;
    }
    return settle(deps, authorizationId, error, run.lease);
  }
}
