import { assertContractAdmin, type Actor } from './actors.ts';
import type { ServiceContext } from './context.ts';
import { IDLE_SYNC_STATE, syncStateView } from '../sync/state.ts';

type GrantState = 'not_authorized' | 'authorized' | 'needs_reauthorization' | 'deauthorized';

/**
 * The admin's view of every seat's mailbox connection and sync: a seat that never synced reports `idle`.
 */
export async function syncHealth(ctx: ServiceContext, actor: Actor, contractId: string) {
  assertContractAdmin(actor, contractId);
  const seats = await ctx.db
    .selectFrom('seats')
    .leftJoin('users', 'users.id', 'seats.user_id')
    .select(['seats.id', 'seats.user_id', 'users.name'])
    .where('seats.contract_id', '=', contractId)
    .orderBy('seats.created_at')
    .orderBy('seats.id')
    .execute();
  const grants = await ctx.db
    .selectFrom('mailbox_authorizations')
    .select(['id', 'seat_id', 'kind', 'state', 'address', 'state_reason'])
    .where('contract_id', '=', contractId)
    .execute();
  const grantOf = (seatId: string, kind: 'email' | 'calendar') => {
    const g = grants.find((x) => x.seat_id === seatId && x.kind === kind);
    return { state: (g?.state ?? 'not_authorized') as GrantState, address: g?.address ?? null, reason: g?.state_reason ?? null };
  };
  const now = ctx.clock.now();
  return Promise.all(
    seats.map(async (s) => {
      const emailGrant = grants.find((g) => g.seat_id === s.id && g.kind === 'email');
      return {
        seatId: s.id,
        userId: s.user_id,
        userName: s.name,
        email: grantOf(s.id, 'email'),
        calendar: grantOf(s.id, 'calendar'),
        // The same view as the seat's page, so both say the same: "up to date" only when mail was read recently.
        sync: emailGrant ? await syncStateView(ctx.db, emailGrant.id, now) : IDLE_SYNC_STATE,
      };
    }),
  );
}
