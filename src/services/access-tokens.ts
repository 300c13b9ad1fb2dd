import { sql } from 'kysely';
import { AppError } from '../errors.ts';
import { newId } from '../ids.ts';
import { ProviderError } from '../providers/errors.ts';
import { recordAudit } from './audit.ts';
import type { MailboxDeps } from './mailbox-authorization.ts';

/** Refresh this long before expiry, so a sync never starts with a token about to lapse. */
export const REFRESH_AHEAD_MS = 5 * 60 * 1000;
const LEASE_MS = 30_000;
const WAIT_STEP_MS = 50;

/**
 * A valid access token for a grant, refreshed ahead of expiry. One refresh at a time per grant across all
 * processes: a process takes a short lease on the row; others wait for the lease holder's result
 * instead of refreshing too (Microsoft refresh tokens roll, so a second refresh could invalidate the first).
 * A refusal marks the grant `needs_reauthorization` with the reason and stops its syncing.
 */
export async function accessTokenFor(deps: MailboxDeps, authorizationId: string): Promise<string> {
  return (await accessTokenWithExpiry(deps, authorizationId)).token;
}

interface HeldToken {
  readonly token: string;
  readonly expiresAt: number;
  /** The grant's authorization it was issued under: a re-authorization (perhaps of another mailbox) replaces it. */
  readonly authorizedAt: number;
}

/** Access tokens this process holds for the sync's provider calls, by grant id. */
const held = new Map<string, HeldToken>();

/**
 * `accessTokenFor` without a database read per call: the token is kept in the process until `REFRESH_AHEAD_MS`
 * before it expires, for the grant's authorization of `authorizedAt` (its `last_authorized_at` as the caller read it). For callers that check the grant themselves as they go (a sync run checks it before every page
 * and in every batch's transaction), and that drop it (`forgetAccessToken`) when the provider refuses it or the
 * grant has ended.
 */
export async function heldAccessToken(deps: MailboxDeps, authorizationId: string, authorizedAt: Date): Promise<string> {
  const kept = held.get(authorizationId);
  if (kept !== undefined && kept.authorizedAt === authorizedAt.getTime() && kept.expiresAt - deps.clock.now().getTime() > REFRESH_AHEAD_MS) return kept.token;
  const fresh = await accessTokenWithExpiry(deps, authorizationId);
  if (fresh.expiresAt === null) held.delete(authorizationId);
  else held.set(authorizationId, { token: fresh.token, expiresAt: fresh.expiresAt.getTime(), authorizedAt: authorizedAt.getTime() });
  return fresh.token;
}

/** Drops the token this process holds for a grant (refused by the provider, or the grant ended). */
export function forgetAccessToken(authorizationId: string): void {
  held.delete(authorizationId);
}

async function accessTokenWithExpiry(deps: MailboxDeps, authorizationId: string): Promise<{ token: string; expiresAt: Date | null }> {
  const deadline = Date.now() + LEASE_MS + 5_000;
  for (;;) {
    const row = await deps.db.selectFrom('mailbox_authorizations').selectAll().where('id', '=', authorizationId).executeTakeFirstOrThrow();
    if (row.state === 'needs_reauthorization') throw new AppError('needs_reauthorization', reauthorizationMessage(row.state_reason));
    if (row.state !== 'authorized' || !row.access_token_ciphertext || !row.refresh_token_ciphertext) {
      throw new AppError('not_authorized', 'This mailbox is not connected.');
    }
    const now = deps.clock.now();
    if (row.access_token_expires_at && row.access_token_expires_at.getTime() - now.getTime() > REFRESH_AHEAD_MS) {
      return { token: deps.cipher.open(row.access_token_ciphertext, `${row.id}:access`), expiresAt: row.access_token_expires_at };
    }
    const leaseId = newId();
    const claimed = await deps.db
      .updateTable('mailbox_authorizations')
      .set({ refresh_lease_id: leaseId, refresh_lease_until: new Date(now.getTime() + LEASE_MS) })
      .where('id', '=', authorizationId)
      .where('state', '=', 'authorized')
      .where((eb) => eb.or([eb('refresh_lease_until', 'is', null), eb('refresh_lease_until', '<', now)]))
      // Still due: another process may have refreshed between our read and this claim.
      .where((eb) => eb.or([eb('access_token_expires_at', 'is', null), eb('access_token_expires_at', '<=', new Date(now.getTime() + REFRESH_AHEAD_MS))]))
      .returning('id')
      .executeTakeFirst();
    if (!claimed) {
      // Another process is refreshing: wait for its result.
      if (Date.now() > deadline) throw new ProviderError('transient', 'token refresh by another process did not finish');
      await new Promise((resolve) => setTimeout(resolve, WAIT_STEP_MS));
      continue;
    }
    return refreshUnderLease(deps, row.id, leaseId, row.provider, deps.cipher.open(row.refresh_token_ciphertext, `${row.id}:refresh`), row.scopes, row.seat_id, row.contract_id);
  }
}

async function refreshUnderLease(
  deps: MailboxDeps,
  id: string,
  leaseId: string,
  provider: 'google' | 'microsoft',
  refreshToken: string,
  scopes: string[],
  seatId: string,
  contractId: string,
): Promise<{ token: string; expiresAt: Date | null }> {
  try {
    const tokens = await deps.providers.oauth(provider).refresh(refreshToken, scopes);
    const now = deps.clock.now();
    const updated = await deps.db
      .updateTable('mailbox_authorizations')
      .set({
        access_token_ciphertext: deps.cipher.seal(tokens.accessToken, `${id}:access`),
        refresh_token_ciphertext: deps.cipher.seal(tokens.refreshToken ?? refreshToken, `${id}:refresh`),
        access_token_expires_at: tokens.expiresAt,
        refresh_lease_id: null,
        refresh_lease_until: null,
        updated_at: now,
      })
      .where('id', '=', id)
      .where('refresh_lease_id', '=', leaseId)
      .where('state', '=', 'authorized')
      .returning('id')
      .executeTakeFirst();
    // Deauthorized while we refreshed: the new tokens must not be kept (nor used).
    if (!updated) {
      await deps.providers.oauth(provider).revoke(tokens.refreshToken ?? tokens.accessToken).catch(() => undefined);
      throw new AppError('not_authorized', 'This mailbox was disconnected.');
    }
    return { token: tokens.accessToken, expiresAt: tokens.expiresAt ?? null };
  } catch (error) {
    if (error instanceof ProviderError && (error.kind === 'auth' || error.kind === 'consent')) {
      const now = deps.clock.now();
      const reason = `${provider === 'google' ? 'Google' : 'Microsoft'} refused to renew access: ${error.message}`;
      await deps.db.transaction().execute(async (trx) => {
        await trx
          .updateTable('mailbox_authorizations')
          // deauthorized_at: when syncing stopped, which R-23's six months count from.
          .set({ state: 'needs_reauthorization', state_reason: reason, access_token_ciphertext: null, access_token_expires_at: null, refresh_lease_id: null, refresh_lease_until: null, deauthorized_at: now, updated_at: now })
          .where('id', '=', id)
          .execute();
        await recordAudit(trx, { contractId, actor: 'system', action: 'authorization.needs_reauthorization', targetType: 'seat', targetId: seatId, at: now, details: { provider, providerCode: error.details.providerCode ?? null } });
      });
      throw new AppError('needs_reauthorization', reauthorizationMessage(reason));
    }
    await deps.db.updateTable('mailbox_authorizations').set({ refresh_lease_id: null, refresh_lease_until: null }).where('id', '=', id).where('refresh_lease_id', '=', leaseId).execute();
    throw error;
  }
}

export function reauthorizationMessage(reason: string | null): string {
  return `${reason ?? 'The provider no longer accepts this connection.'} Reconnect your mailbox in Email & calendar settings; everything already synced is kept.`;
}

/** revokes tokens queued by deauthorization; retried with back-off, then given up (the token is gone either way). */
export async function processTokenRevocations(deps: MailboxDeps, limit = 50): Promise<{ revoked: number; failed: number }> {
  const now = deps.clock.now();
  const due = await deps.db
    .selectFrom('token_revocations')
    .selectAll()
    .where('next_attempt_at', '<=', now)
    // The grant's push channels are ended first, with this token (push_stops); revoking it would leave them running.
    .where(sql<boolean>`NOT EXISTS (SELECT 1 FROM push_stops ps WHERE ps.provider = token_revocations.provider AND ps.authorization_id::text || ':refresh' = token_revocations.token_bound_to)`)
    .orderBy('next_attempt_at')
    .limit(limit)
    .execute();
  let revoked = 0;
  let failed = 0;
  for (const row of due) {
    try {
      const token = deps.cipher.open(row.token_ciphertext, row.token_bound_to);
      await deps.providers.oauth(row.provider).revoke(token);
      await deps.db.deleteFrom('token_revocations').where('id', '=', row.id).execute();
      revoked++;
    } catch (error) {
      failed++;
      const attempts = row.attempts + 1;
      if (attempts >= 8) {
        await deps.db.transaction().execute(async (trx) => {
          await trx.deleteFrom('token_revocations').where('id', '=', row.id).execute();
          await recordAudit(trx, { contractId: row.contract_id, actor: 'system', action: 'authorization.revocation_abandoned', targetType: 'seat', targetId: row.seat_id, at: now, details: { provider: row.provider, attempts, error: (error as Error).message } });
        });
      } else {
        const backoffMs = Math.min(60 * 60_000, 30_000 * 2 ** row.attempts);
        await deps.db
          .updateTable('token_revocations')
          .set({ attempts, last_error: (error as Error).message.slice(0, 500), next_attempt_at: new Date(now.getTime() + backoffMs) })
          .where('id', '=', row.id)
          .execute();
      }
    }
  }
  return { revoked, failed };
}
