/**
 * Push notifications: channels at the provider (a Gmail watch, Graph subscriptions) started once a grant's
 * historical sync is done and renewed before they lapse; the notifications they bring, turned into incremental
 * syncs. Ending them at deauthorization and suspension is `services/push-stops.ts`. The poll
 * (`sync.poll:<grant>`) stays the fallback.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Selectable } from 'kysely';
import { AppError } from '../errors.ts';
import { newId } from '../ids.ts';
import { RetryLaterError, type Jobs } from '../jobs/index.ts';
import type { Logger } from '../logging.ts';
import { ProviderError } from '../providers/errors.ts';
import type { MailPushClient, Opaque, PushChannel } from '../providers/mail.ts';
import type { PushNotice } from '../providers/push.ts';
import { accessTokenFor } from '../services/access-tokens.ts';
import type { MailboxDeps } from '../services/mailbox-authorization.ts';
import type { PushSubscriptionsTable } from '../store/schema.ts';
import { withMailboxBudget } from './quota-budget.ts';

/** A channel is renewed when it has less than this left (Gmail watches last 7 days, Graph subscriptions under 7). */
export const RENEW_AHEAD_MS = 24 * 3600_000;
/** How often the recurring `subscriptions.renew` looks for channels to renew or start. */
export const RENEW_EVERY_SECONDS = 3600;
/** How soon an upkeep that found the grant resyncing looks again (by the product clock). */
export const RESYNC_RECHECK_MS = 60_000;

type Jobs_ = Pick<Jobs, 'send'>;
type Row = Selectable<PushSubscriptionsTable>;

export const syncJobKey = (authorizationId: string): string => `sync.mailbox:${authorizationId}`;
export const renewJobKey = (authorizationId: string): string => `subscriptions.renew:${authorizationId}`;

/** Many notifications for one grant collapse into the one waiting sync; one arriving during a run queues the next. */
export async function requestSync(jobs: Jobs_, authorizationId: string): Promise<void> {
  await jobs.send('sync.mailbox', { authorizationId, trigger: 'notification' }, { singletonKey: syncJobKey(authorizationId) });
}

export async function requestPushUpkeep(jobs: Jobs_, authorizationId: string): Promise<void> {
  await jobs.send('subscriptions.renew', { authorizationId }, { singletonKey: renewJobKey(authorizationId) });
}

const secretHash = (secret: string): string => createHash('sha256').update(secret, 'utf8').digest('hex');

/** Constant-time: how much of a forged clientState matches must not show in the time it takes to refuse it. */
function secretMatches(storedHash: string | null, given: string | null): boolean {
  if (storedHash === null) return given === null;
  if (given === null) return false;
  const expected = Buffer.from(storedHash, 'hex');
  const actual = createHash('sha256').update(given, 'utf8').digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

// ---------------------------------------------------------------- notifications

export interface NoticeOutcome {
  /** Notices that led to work (a sync, a renewal), or that an earlier sync already covered. */
  accepted: number;
  covered: number;
  /** No channel of ours has this id (an old watch, another deployment's subscription). */
  unknown: number;
  /** The channel exists but the notice's secret does not match it: never trusted, never acted on. */
  rejected: number;
  /** The grant is not authorized (any more): nothing to sync. */
  inactive: number;
}

/**
 * Acts on notices that passed the provider's own authentication (the Pub/Sub token, or none for Graph, whose
 * notices are checked here against the channel's clientState). Fast by design: it only enqueues work.
 */
export async function receivePushNotices(deps: Pick<MailboxDeps, 'db' | 'clock' | 'providers'>, jobs: Jobs_, notices: readonly PushNotice[]): Promise<NoticeOutcome> {
  const outcome: NoticeOutcome = { accepted: 0, covered: 0, unknown: 0, rejected: 0, inactive: 0 };
  if (notices.length === 0) return outcome;
  const now = deps.clock.now();
  const rows = await deps.db
    .selectFrom('push_subscriptions as ps')
    .innerJoin('mailbox_authorizations as ma', 'ma.id', 'ps.authorization_id')
    .leftJoin('sync_states as ss', 'ss.authorization_id', 'ps.authorization_id')
    .select(['ps.id', 'ps.provider', 'ps.external_id', 'ps.authorization_id', 'ps.client_state_hash', 'ma.state', 'ma.kind', 'ss.cursor', 'ss.phase'])
    .where((eb) => eb.or(notices.map((n) => eb.and([eb('ps.provider', '=', n.provider), eb('ps.external_id', '=', n.channelId)]))))
    .execute();
  const syncs = new Set<string>();
  const upkeep = new Set<string>();
  for (const notice of notices) {
    const matching = rows.filter((r) => r.provider === notice.provider && r.external_id === notice.channelId);
    if (matching.length === 0) {
      outcome.unknown++;
      continue;
    }
    for (const row of matching) {
      if (!secretMatches(row.client_state_hash, notice.secret)) {
        outcome.rejected++;
        continue;
      }
      if (row.state !== 'authorized' || row.kind !== 'email') {
        outcome.inactive++;
        continue;
      }
      switch (notice.event) {
        case 'changed':
          if (notice.position !== null && row.phase === 'incremental' && row.cursor && deps.providers.push(row.provider).cursorCovers(row.cursor as Opaque, notice.position)) {
            outcome.covered++;
            continue;
          }
          syncs.add(row.authorization_id);
          break;
        case 'missed':
          syncs.add(row.authorization_id);
          break;
        case 'renew':
          await deps.db.updateTable('push_subscriptions').set({ renew_requested_at: now }).where('id', '=', row.id).execute();
          upkeep.add(row.authorization_id);
          break;
        case 'recreate':
          // The provider has dropped it: the row goes, and the upkeep starts the channel again.
          await deps.db.deleteFrom('push_subscriptions').where('id', '=', row.id).execute();
          upkeep.add(row.authorization_id);
          // Changes may have gone unannounced since it was dropped.
          syncs.add(row.authorization_id);
          break;
      }
      outcome.accepted++;
    }
  }
  for (const id of syncs) await requestSync(jobs, id);
  for (const id of upkeep) await requestPushUpkeep(jobs, id);
  return outcome;
}

// ---------------------------------------------------------------- starting and renewing

export interface UpkeepResult {
  started: number;
  renewed: number;
  stopped: number;
  /** Failures the provider will keep refusing (e.g. our webhook URL unreachable for Graph's validation). */
  failed: number;
}

/**
 * Brings one grant's channels in line: starts the missing ones (once its historical sync is done), renews the ones
 * about to lapse or that the provider asked to renew, ends those on resources no longer watched (a new Pub/Sub
 * topic). A transient provider failure throws, so the job retries; a permanent one is logged and left to the next
 * recurring round.
 */
export async function upkeepGrantPush(deps: MailboxDeps, authorizationId: string, log?: Pick<Logger, 'warn'>): Promise<UpkeepResult> {
  const result: UpkeepResult = { started: 0, renewed: 0, stopped: 0, failed: 0 };
  const grant = await deps.db.selectFrom('mailbox_authorizations').select(['id', 'contract_id', 'provider', 'state', 'kind', 'address']).where('id', '=', authorizationId).executeTakeFirst();
  if (!grant || grant.kind !== 'email' || grant.state !== 'authorized') return result;
  const client = deps.providers.push(grant.provider);
  const wanted = client.pushResources();
  const state = await deps.db.selectFrom('sync_states').select('phase').where('authorization_id', '=', authorizationId).executeTakeFirst();
  const mayStart = state?.phase === 'incremental';
  const rows = await deps.db.selectFrom('push_subscriptions').selectAll().where('authorization_id', '=', authorizationId).execute();
  const now = deps.clock.now();
  // A resync after an expired cursor is under way (the upkeep asked for at the end of the historical sync came late, or
  // its first try failed): the channels start once it is done, so the upkeep comes back instead of ending with none.
  if (state?.phase === 'historical' && wanted.some((resource) => !rows.some((r) => r.resource === resource))) {
    throw new RetryLaterError(new Date(now.getTime() + RESYNC_RECHECK_MS), 'push channels start once the resync is done');
  }
  const due = (row: Row) => row.renew_requested_at !== null || row.expires_at.getTime() - now.getTime() <= RENEW_AHEAD_MS;
  const stale = rows.filter((r) => !wanted.includes(r.resource));
  const renew = rows.filter((r) => wanted.includes(r.resource) && due(r));
  const missing = mayStart ? wanted.filter((resource) => !rows.some((r) => r.resource === resource)) : [];
  if (stale.length + renew.length + missing.length === 0) return result;

  let token: string;
  try {
    token = await accessTokenFor(deps, authorizationId);
  } catch (error) {
    // Not authorized any more, or the provider refuses the grant: recorded on the grant; nothing to do here.
    if (error instanceof AppError) return result;
    throw error;
  }
  let transient: unknown;
  const attempt = async (what: string, run: () => Promise<void>) => {
    try {
      // watches and subscriptions draw on the mailbox's quota budget too (a Gmail watch costs 100 units).
      await withMailboxBudget(deps, grant.provider, grant.address, authorizationId, run);
    } catch (error) {
      if (error instanceof ProviderError && (error.kind === 'transient' || error.kind === 'throttled')) transient ??= error;
      else result.failed++;
      log?.warn({ authorizationId, provider: grant.provider, what, err: (error as Error).message }, 'push channel upkeep failed');
    }
  };

  // Ended first: a mailbox has one Gmail watch, which a start on the new topic then replaces.
  for (const row of stale) {
    await attempt('stop', async () => {
      await client.stopPush(token, { channelId: row.external_id, resource: row.resource });
      await deps.db.deleteFrom('push_subscriptions').where('id', '=', row.id).execute();
      result.stopped++;
    });
  }
  for (const row of renew) {
    await attempt('renew', async () => {
      let channel: PushChannel;
      try {
        channel = await client.renewPush(token, { channelId: row.external_id, resource: row.resource });
      } catch (error) {
        if (!(error instanceof ProviderError && error.kind === 'permanent' && error.details.status === 404)) throw error;
        // The provider no longer has it: start it again.
        await deps.db.deleteFrom('push_subscriptions').where('id', '=', row.id).execute();
        if (await startChannel(deps, client, grant, token, row.resource)) result.started++;
        return;
      }
      await deps.db
        .updateTable('push_subscriptions')
        .set({ expires_at: channel.expiresAt, renewed_at: deps.clock.now(), renew_requested_at: null })
        .where('id', '=', row.id)
        .execute();
      result.renewed++;
    });
  }
  for (const resource of missing) {
    await attempt('start', async () => {
      if (await startChannel(deps, client, grant, token, resource)) result.started++;
    });
  }
  if (transient) throw transient;
  return result;
}

/**
 * Starts a channel and stores it, unless the grant was deauthorized meanwhile (deauthorization locks the grant row
 * and moves its channels to `push_stops`): then the channel is ended at once with the token still in hand.
 */
async function startChannel(deps: MailboxDeps, client: MailPushClient, grant: { id: string; contract_id: string; provider: 'google' | 'microsoft' }, token: string, resource: string): Promise<boolean> {
  const channel = await client.startPush(token, resource);
  const stored = await deps.db.transaction().execute(async (trx) => {
    const current = await trx.selectFrom('mailbox_authorizations').select('state').where('id', '=', grant.id).forUpdate().executeTakeFirst();
    if (current?.state !== 'authorized') return 'deauthorized' as const;
    const now = deps.clock.now();
    const inserted = await trx
      .insertInto('push_subscriptions')
      .values({
        id: newId(),
        contract_id: grant.contract_id,
        authorization_id: grant.id,
        provider: grant.provider,
        external_id: channel.channelId,
        resource,
        client_state_hash: channel.secret === null ? null : secretHash(channel.secret),
        expires_at: channel.expiresAt,
        created_at: now,
        renew_requested_at: null,
        renewed_at: null,
      })
      .onConflict((oc) => oc.columns(['authorization_id', 'resource']).doNothing())
      .returning('id')
      .executeTakeFirst();
    if (inserted) {
      // A stop still queued from an earlier deauthorization must not end this same channel (a mailbox's one Gmail watch).
      await trx.deleteFrom('push_stops').where('authorization_id', '=', grant.id).where('provider', '=', grant.provider).where('external_id', '=', channel.channelId).execute();
      return 'stored' as const;
    }
    const other = await trx.selectFrom('push_subscriptions').select('external_id').where('authorization_id', '=', grant.id).where('resource', '=', resource).executeTakeFirst();
    return other?.external_id === channel.channelId ? ('same' as const) : ('duplicate' as const);
  });
  // Another run started this resource's channel at the same time (a distinct one), or the grant is gone: end ours.
  if (stored === 'deauthorized' || stored === 'duplicate') {
    await client.stopPush(token, channel).catch(() => undefined);
    return false;
  }
  return stored === 'stored';
}

/**
 * The recurring round: a per-grant upkeep job for every authorized grant with a channel due for renewal, or with
 * fewer channels than its provider watches (a start that failed, push configured after the grant's sync).
 */
export async function enqueueDueUpkeep(deps: MailboxDeps, jobs: Jobs_): Promise<number> {
  const now = deps.clock.now();
  const dueRows = await deps.db
    .selectFrom('push_subscriptions as ps')
    .innerJoin('mailbox_authorizations as ma', 'ma.id', 'ps.authorization_id')
    .select('ps.authorization_id')
    .distinct()
    .where('ma.state', '=', 'authorized')
    .where((eb) => eb.or([eb('ps.expires_at', '<=', new Date(now.getTime() + RENEW_AHEAD_MS)), eb('ps.renew_requested_at', 'is not', null)]))
    .execute();
  const ids = new Set(dueRows.map((r) => r.authorization_id));
  for (const provider of ['google', 'microsoft'] as const) {
    const wanted = deps.providers.push(provider).pushResources().length;
    if (wanted === 0) continue;
    const short = await deps.db
      .selectFrom('mailbox_authorizations as ma')
      .innerJoin('sync_states as ss', 'ss.authorization_id', 'ma.id')
      .leftJoin('push_subscriptions as ps', 'ps.authorization_id', 'ma.id')
      .select('ma.id')
      .where('ma.provider', '=', provider)
      .where('ma.kind', '=', 'email')
      .where('ma.state', '=', 'authorized')
      .where('ss.phase', '=', 'incremental')
      .groupBy('ma.id')
      .having((eb) => eb.fn.count('ps.id'), '<', wanted)
      .execute();
    for (const r of short) ids.add(r.id);
  }
  for (const id of ids) await requestPushUpkeep(jobs, id);
  return ids.size;
}

// ---------------------------------------------------------------- jobs

/**
 * `subscriptions.renew`: with a grant, that grant's upkeep; without, the recurring round that enqueues the grants
 * due. Scheduled by `src/workers.ts`.
 */
export function registerPushWorkers(jobs: Pick<Jobs, 'work' | 'send'>, deps: MailboxDeps, logger: Logger): void {
  const log = logger.child({ component: 'push' });
  jobs.work('subscriptions.renew', async ({ authorizationId }) => {
    if (!authorizationId) {
      const enqueued = await enqueueDueUpkeep(deps, jobs);
      if (enqueued > 0) log.info({ grants: enqueued }, 'push channel upkeep enqueued');
      return;
    }
    const result = await upkeepGrantPush(deps, authorizationId, log);
    if (result.started || result.renewed || result.stopped || result.failed) log.info({ authorizationId, ...result }, 'push channels kept up');
  });
}
