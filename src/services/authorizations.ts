import type { AuthorizationKind, Provider } from '../domain/types.ts';
import { newId } from '../ids.ts';
import { forgetAccessToken } from './access-tokens.ts';
import type { Actor } from './actors.ts';
import { recordAudit } from './audit.ts';
import type { Tx } from './context.ts';
import { queuePushStops } from './push-stops.ts';

/** Providers with an endpoint that revokes one app's grant (Microsoft has none: its tokens are deleted). */
const REVOCABLE: ReadonlySet<Provider> = new Set(['google']);

/** Why grants end: the user, an admin downgrade, a provider change, a seat transfer or park. */
export type DeauthorizationReason = 'user_request' | 'access_level_downgrade' | 'provider_change' | 'seat_transferred' | 'seat_parked';

const sameAddress = (a: string | null, b: string | null) => a !== null && b !== null && a.toLowerCase() === b.toLowerCase();

/**
 * R-22 deauthorization of stored grants: tokens leave the grant at once (a revocable refresh token moves to
 * `token_revocations` until the provider confirms; push channels move to `push_stops` with what ending them at the
 * provider needs), the state and reason are recorded; the cursor and the
 * authorization history (first/last authorized) stay so that a re-authorization can resume.
 * Every path that ends grants — the user, an admin downgrade, a provider change, a seat transfer or
 * park — comes here.
 *
 * Google revokes the whole consent of an account to the app, whichever token is named, so a calendar token
 * of the same account as a live email grant is deleted here but not revoked: revoking it would end the email grant.
 * It is revoked with the email grant's token when that one ends.
 */
export async function deauthorizeGrants(
  trx: Tx,
  params: {
    contractId: string;
    kinds: AuthorizationKind[];
    provider?: Provider | undefined;
    seatId?: string | undefined;
    reason: DeauthorizationReason;
    actor: Actor | 'system';
    now: Date;
  },
): Promise<Array<{ id: string; seatId: string; kind: AuthorizationKind }>> {
  let select = trx
    .selectFrom('mailbox_authorizations')
    .select(['id', 'contract_id', 'seat_id', 'kind', 'provider', 'address', 'scopes', 'access_token_ciphertext', 'access_token_expires_at', 'refresh_token_ciphertext'])
    .where('contract_id', '=', params.contractId)
    .where('kind', 'in', params.kinds)
    .where('state', '!=', 'deauthorized')
    .forUpdate();
  if (params.provider) select = select.where('provider', '=', params.provider);
  if (params.seatId) select = select.where('seat_id', '=', params.seatId);
  const ending = await select.execute();
  const endingIds = new Set(ending.map((g) => g.id));
  for (const id of endingIds) forgetAccessToken(id);
  for (const grant of ending) {
    // Push channels are ended at the provider with these tokens before the refresh token is revoked (tokens.revoke).
    await queuePushStops(trx, grant, params.reason, params.now);
    const sharesLiveEmailGrant = grant.kind === 'calendar' && grant.provider === 'google' && (await liveEmailGrantOfAccount(trx, grant, endingIds));
    if (grant.refresh_token_ciphertext && REVOCABLE.has(grant.provider) && !sharesLiveEmailGrant) {
      await trx
        .insertInto('token_revocations')
        .values({
          id: newId(),
          contract_id: params.contractId,
          seat_id: grant.seat_id,
          provider: grant.provider,
          token_ciphertext: grant.refresh_token_ciphertext,
          token_bound_to: `${grant.id}:refresh`,
          reason: params.reason,
          last_error: null,
          created_at: params.now,
          next_attempt_at: params.now,
        })
        .execute();
    }
    await trx
      .updateTable('mailbox_authorizations')
      .set({
        state: 'deauthorized',
        state_reason: params.reason,
        access_token_ciphertext: null,
        refresh_token_ciphertext: null,
        access_token_expires_at: null,
        refresh_lease_id: null,
        refresh_lease_until: null,
        deauthorized_at: params.now,
        updated_at: params.now,
      })
      .where('id', '=', grant.id)
      .execute();
    await recordAudit(trx, {
      contractId: params.contractId,
      actor: params.actor,
      action: 'authorization.deauthorized',
      targetType: 'seat',
      targetId: grant.seat_id,
      at: params.now,
      details: { kind: grant.kind, provider: grant.provider, reason: params.reason, ...(sharesLiveEmailGrant ? { revokedAtProvider: false, keptFor: 'email' } : {}) },
    });
  }
  return ending.map((g) => ({ id: g.id, seatId: g.seat_id, kind: g.kind }));
}

/** the seat's email grant at the same provider and account, still live and not ending in this same call. */
async function liveEmailGrantOfAccount(trx: Tx, grant: { seat_id: string; provider: Provider; address: string | null }, endingIds: ReadonlySet<string>): Promise<boolean> {
  const rows = await trx
    .selectFrom('mailbox_authorizations')
    .select(['id', 'address'])
    .where('seat_id', '=', grant.seat_id)
    .where('kind', '=', 'email')
    .where('provider', '=', grant.provider)
    .where('state', '!=', 'deauthorized')
    .execute();
  return rows.some((r) => !endingIds.has(r.id) && sameAddress(r.address, grant.address));
}
