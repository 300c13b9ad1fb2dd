import type { AuthorizationKind, Provider } from '../domain/types.ts';
import type { Actor } from './actors.ts';
import { recordAudit } from './audit.ts';
import type { Tx } from './context.ts';

/**
 * R-22 deauthorization of stored grants: tokens are deleted, the state and reason recorded; the cursor and
 * the authorization history (first/last authorized) stay so that a re-authorization can resume.
 * Every path that ends grants — the user, an admin downgrade, a provider change — comes here.
 */
export async function deauthorizeGrants(
  trx: Tx,
  params: {
    contractId: string;
    kinds: AuthorizationKind[];
    provider?: Provider | undefined;
    seatId?: string | undefined;
    reason: 'user_request' | 'access_level_downgrade' | 'provider_change';
    actor: Actor | 'system';
    now: Date;
  },
): Promise<Array<{ id: string; seatId: string; kind: AuthorizationKind }>> {
  let query = trx
    .updateTable('mailbox_authorizations')
    .set({
      state: 'deauthorized',
      state_reason: params.reason,
      access_token_ciphertext: null,
      refresh_token_ciphertext: null,
      access_token_expires_at: null,
      deauthorized_at: params.now,
      updated_at: params.now,
    })
    .where('contract_id', '=', params.contractId)
    .where('kind', 'in', params.kinds)
    .where('state', '!=', 'deauthorized');
  if (params.provider) query = query.where('provider', '=', params.provider);
  if (params.seatId) query = query.where('seat_id', '=', params.seatId);
  const ended = await query.returning(['id', 'seat_id', 'kind']).execute();
  for (const grant of ended) {
    await recordAudit(trx, {
      contractId: params.contractId,
      actor: params.actor,
      action: 'authorization.deauthorized',
      targetType: 'seat',
      targetId: grant.seat_id,
      at: params.now,
      details: { kind: grant.kind, reason: params.reason },
    });
  }
  return ended.map((g) => ({ id: g.id, seatId: g.seat_id, kind: g.kind }));
}
