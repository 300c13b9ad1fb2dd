/**
 * Ending push channels: a deauthorized grant's Gmail watch or Graph subscriptions are ended at the
 * provider, with tokens kept for that purpose only until it is done, and a suspended contract's before its tokens
 * are revoked. Starting and renewing them is `sync/push.ts`.
 */
import type { Selectable } from 'kysely';
import { newId } from '../ids.ts';
import { ProviderError } from '../providers/errors.ts';
import type { PushStopsTable } from '../store/schema.ts';
import { accessTokenFor } from './access-tokens.ts';
import { recordAudit } from './audit.ts';
import type { Tx } from './context.ts';
import type { MailboxDeps } from './mailbox-authorization.ts';

const STOP_ATTEMPTS = 8;

/**
 * R-22, inside the deauthorization's transaction: the grant's channels move to `push_stops` with the sealed tokens
 * needed to end them, since the grant's own tokens are deleted now. `tokens.revoke` ends them at the provider
 * before it revokes the grant's refresh token.
 */
export async function queuePushStops(
  trx: Tx,
  grant: { id: string; contract_id: string; provider: 'google' | 'microsoft'; scopes: string[]; access_token_ciphertext: string | null; access_token_expires_at: Date | null; refresh_token_ciphertext: string | null },
  reason: string,
  now: Date,
): Promise<number> {
  const rows = await trx.selectFrom('push_subscriptions').select(['id', 'external_id', 'resource']).where('authorization_id', '=', grant.id).execute();
  if (rows.length === 0) return 0;
  await trx
    .insertInto('push_stops')
    .values(
      rows.map((r) => ({
        id: newId(),
        contract_id: grant.contract_id,
        authorization_id: grant.id,
        provider: grant.provider,
        external_id: r.external_id,
        resource: r.resource,
        access_token_ciphertext: grant.access_token_ciphertext,
        access_token_expires_at: grant.access_token_expires_at,
        refresh_token_ciphertext: grant.refresh_token_ciphertext,
        scopes: grant.scopes,
        reason,
        attempts: 0,
        last_error: null,
        created_at: now,
        next_attempt_at: now,
      })),
    )
    .execute();
  await trx.deleteFrom('push_subscriptions').where('authorization_id', '=', grant.id).execute();
  return rows.length;
}

/** An access token for a queued stop: the one sealed with it while still fresh, else one from its refresh token. */
async function stopToken(deps: MailboxDeps, row: Selectable<PushStopsTable>): Promise<string> {
  const now = deps.clock.now();
  if (row.access_token_ciphertext && row.access_token_expires_at && row.access_token_expires_at.getTime() - now.getTime() > 60_000) {
    return deps.cipher.open(row.access_token_ciphertext, `${row.authorization_id}:access`);
  }
  if (!row.refresh_token_ciphertext) throw new ProviderError('auth', 'no token left to end the push channel with');
  const tokens = await deps.providers.oauth(row.provider).refresh(deps.cipher.open(row.refresh_token_ciphertext, `${row.authorization_id}:refresh`), row.scopes);
  return tokens.accessToken;
}

const hopeless = (error: unknown) => error instanceof ProviderError && (error.kind === 'auth' || error.kind === 'consent' || error.kind === 'permanent');

/** ends queued channels at the provider; retried with back-off, given up (and audited) when it cannot succeed. */
export async function processPushStops(deps: MailboxDeps, limit = 50): Promise<{ stopped: number; failed: number }> {
  const now = deps.clock.now();
  const due = await deps.db.selectFrom('push_stops').selectAll().where('next_attempt_at', '<=', now).orderBy('next_attempt_at').limit(limit).execute();
  let stopped = 0;
  let failed = 0;
  for (const row of due) {
    try {
      await deps.providers.push(row.provider).stopPush(await stopToken(deps, row), { channelId: row.external_id, resource: row.resource });
      await deps.db.deleteFrom('push_stops').where('id', '=', row.id).execute();
      stopped++;
    } catch (error) {
      failed++;
      const attempts = row.attempts + 1;
      const message = (error as Error).message.slice(0, 500);
      if (hopeless(error) || attempts >= STOP_ATTEMPTS) {
        await deps.db.transaction().execute(async (trx) => {
          await trx.deleteFrom('push_stops').where('id', '=', row.id).execute();
          await recordAudit(trx, { contractId: row.contract_id, actor: 'system', action: 'push.stop_abandoned', targetType: 'authorization', targetId: row.authorization_id, at: now, details: { provider: row.provider, attempts, error: message } });
        });
      } else {
        const backoffMs = Math.min(60 * 60_000, 30_000 * 2 ** row.attempts);
        await deps.db.updateTable('push_stops').set({ attempts, last_error: message, next_attempt_at: new Date(now.getTime() + backoffMs) }).where('id', '=', row.id).execute();
      }
    }
  }
  return { stopped, failed };
}

/**
 * R-70, before the contract's tokens are revoked: every channel of the contract — live or queued for stopping — is
 * ended at the provider. Failures are counted, never blocking; the rows themselves go with the suspension's deletion
 * (and are counted in its receipt).
 */
export async function stopContractPush(deps: MailboxDeps, contractId: string): Promise<{ stopped: number; failed: number }> {
  const result = { stopped: 0, failed: 0 };
  const live = await deps.db
    .selectFrom('push_subscriptions as ps')
    .innerJoin('mailbox_authorizations as ma', 'ma.id', 'ps.authorization_id')
    .select(['ps.authorization_id', 'ps.provider', 'ps.external_id', 'ps.resource'])
    .where('ps.contract_id', '=', contractId)
    .where('ma.state', '=', 'authorized')
    .execute();
  for (const row of live) {
    try {
      const token = await accessTokenFor(deps, row.authorization_id);
      await deps.providers.push(row.provider).stopPush(token, { channelId: row.external_id, resource: row.resource });
      result.stopped++;
    } catch {
      result.failed++;
    }
  }
  const queued = await deps.db.selectFrom('push_stops').selectAll().where('contract_id', '=', contractId).execute();
  for (const row of queued) {
    try {
      await deps.providers.push(row.provider).stopPush(await stopToken(deps, row), { channelId: row.external_id, resource: row.resource });
      result.stopped++;
    } catch {
      result.failed++;
    }
  }
  return result;
}
