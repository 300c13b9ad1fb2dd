/**
 * The grant health probe: a grant the provider no longer accepts (revoked, password changed, app removed by IT,
 * tokens unknown to it) is found by the product within about two minutes, not first by a failing send. Every minute
 * the grants nobody has heard from the provider about for PROBE_QUIET_MS are asked the lightest question there is:
 * an email grant the mailbox's profile (Gmail `users.getProfile`, 1 quota unit; Graph the Inbox's id), a calendar
 * grant a token renewal (no quota). A refusal marks the grant needs_reauthorization with the reason, as a failing sync
 * does; a provider that is merely down changes nothing.
 */
import type { Kysely } from 'kysely';
import { AppError } from '../errors.ts';
import { accessTokenFor } from '../services/access-tokens.ts';
import type { DB } from '../store/schema.ts';
import { withRetry, type SyncDeps } from './engine.ts';
import { CandidateCache, loadSeatMailbox } from './ingest/index.ts';

/** How often the probe schedule runs. */
export const PROBE_EVERY_SECONDS = 60;
/** A grant heard from within this long (authorized, synced or probed) is not asked again. */
export const PROBE_QUIET_MS = 90_000;
const PROBE_BATCH = 200;

export type ProbeOutcome = 'accepted' | 'refused' | 'unknown';

/**
 * Authorized grants the provider has not been heard from about since `cutoff`. With `authorizedBefore` (the probe a
 * process runs at its start), every grant authorized before then, however recently checked: after a restart the
 * provider may no longer know any of them (the demo's simulated mailboxes are new at every start).
 */
export async function grantsToProbe(db: Kysely<DB>, now: Date, options: { authorizedBefore?: Date } = {}): Promise<Array<{ id: string; kind: 'email' | 'calendar' }>> {
  const cutoff = new Date(now.getTime() - PROBE_QUIET_MS);
  let query = db
    .selectFrom('mailbox_authorizations as a')
    .leftJoin('sync_states as s', 's.authorization_id', 'a.id')
    .select(['a.id', 'a.kind'])
    .where('a.state', '=', 'authorized');
  if (options.authorizedBefore) query = query.where('a.last_authorized_at', '<', options.authorizedBefore);
  else {
    query = query
      .where('a.last_authorized_at', '<', cutoff)
      .where((eb) => eb.or([eb('a.last_checked_at', 'is', null), eb('a.last_checked_at', '<', cutoff)]))
      .where((eb) => eb.or([eb('s.last_synced_at', 'is', null), eb('s.last_synced_at', '<', cutoff)]));
  }
  const rows = await query.orderBy('a.last_checked_at', (ob) => ob.asc().nullsFirst()).orderBy('a.id').limit(PROBE_BATCH).execute();
  return rows.map((r) => ({ id: r.id, kind: r.kind }));
}

/** Asks the provider whether it still accepts one grant; a refusal is recorded on the grant. */
export async function probeGrant(deps: SyncDeps, authorizationId: string): Promise<ProbeOutcome> {
  const grant = await deps.db.selectFrom('mailbox_authorizations').select(['seat_id', 'kind', 'provider', 'state']).where('id', '=', authorizationId).executeTakeFirst();
  if (!grant || grant.state !== 'authorized') return 'unknown';
  try {
    if (grant.kind === 'email') {
      const mailbox = await loadSeatMailbox(deps.db, grant.seat_id);
      const run = { deps, authorizationId, mailbox, client: deps.mail.client(grant.provider), candidates: new CandidateCache(deps.db) };
      // An access token refused before its time is renewed once; a refused renewal marks the grant (withRetry).
      await withRetry(run, (token) => run.client.probe(token));
    } else {
      // Calendar grants: a renewal asks the provider about the grant itself, without spending quota.
      await deps.db.updateTable('mailbox_authorizations').set({ access_token_expires_at: deps.clock.now() }).where('id', '=', authorizationId).where('state', '=', 'authorized').execute();
      await accessTokenFor(deps, authorizationId);
    }
  } catch (error) {
    if (error instanceof AppError && (error.code === 'needs_reauthorization' || error.code === 'not_authorized')) return 'refused';
    // Down, throttled, timed out: nothing is known about the grant; the next round asks again.
    return 'unknown';
  }
  await deps.db.updateTable('mailbox_authorizations').set({ last_checked_at: deps.clock.now() }).where('id', '=', authorizationId).where('state', '=', 'authorized').execute();
  return 'accepted';
}

/** One round of the probe: every grant due, one after the other (a round is a handful of light calls). */
export async function probeGrants(deps: SyncDeps, options: { authorizedBefore?: Date } = {}): Promise<Record<ProbeOutcome, number>> {
  const counts: Record<ProbeOutcome, number> = { accepted: 0, refused: 0, unknown: 0 };
  for (const grant of await grantsToProbe(deps.db, deps.clock.now(), options)) counts[await probeGrant(deps, grant.id)]++;
  return counts;
}
