import type { Selectable } from 'kysely';
import { newId } from '../ids.ts';
import type { Jobs } from '../jobs/index.ts';
import type { SeatsTable } from '../store/schema.ts';
import { assertContractAdmin, assertContractVisible, conflict, requireFound, type Actor } from './actors.ts';
import { recordAudit } from './audit.ts';
import { deauthorizeGrants } from './authorizations.ts';
import type { ServiceContext, Tx } from './context.ts';

/**
 * A licence held by one user at a time; synced data belongs to the seat and stays with it, but the mailbox
 * belongs to the person: a transfer or park ends the seat's grants.
 */
export interface SeatView {
  id: string;
  contractId: string;
  userId: string | null;
  status: 'active' | 'parked';
  holders: Array<{ userId: string; from: Date; until: Date | null }>;
}

async function seatView(db: Tx | ServiceContext['db'], seat: Selectable<SeatsTable>): Promise<SeatView> {
  const holders = await db
    .selectFrom('seat_holders')
    .select(['user_id', 'held_from', 'held_until'])
    .where('seat_id', '=', seat.id)
    .orderBy('held_from')
    .orderBy('id')
    .execute();
  return {
    id: seat.id,
    contractId: seat.contract_id,
    userId: seat.user_id,
    status: seat.status,
    holders: holders.map((h) => ({ userId: h.user_id, from: h.held_from, until: h.held_until })),
  };
}

async function requireUserOfContract(trx: Tx, userId: string, contractId: string): Promise<void> {
  const user = await trx.selectFrom('users').select(['id', 'contract_id']).where('id', '=', userId).executeTakeFirst();
  if (!user || user.contract_id !== contractId) requireFound(undefined, 'user');
  const held = await trx.selectFrom('seats').select('id').where('user_id', '=', userId).executeTakeFirst();
  if (held) throw conflict('This user already holds a seat; transfer or park that seat first.');
}

export async function createSeat(ctx: ServiceContext, actor: Actor, contractId: string, input: { userId: string | null }): Promise<SeatView> {
  assertContractAdmin(actor, contractId);
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    requireFound(await trx.selectFrom('contracts').select('id').where('id', '=', contractId).executeTakeFirst(), 'contract');
    if (input.userId !== null) await requireUserOfContract(trx, input.userId, contractId);
    const id = newId();
    const seat = await trx
      .insertInto('seats')
      .values({ id, contract_id: contractId, user_id: input.userId, status: input.userId ? 'active' : 'parked', created_at: now })
      .returningAll()
      .executeTakeFirstOrThrow();
    if (input.userId !== null) {
      await trx.insertInto('seat_holders').values({ seat_id: id, contract_id: contractId, user_id: input.userId, held_from: now, held_until: null }).execute();
    }
    await recordAudit(trx, { contractId, actor, action: 'seat.created', targetType: 'seat', targetId: id, at: now, details: { userId: input.userId } });
    return seatView(trx, seat);
  });
}

export async function loadSeat(db: Tx | ServiceContext['db'], actor: Actor, seatId: string): Promise<Selectable<SeatsTable>> {
  const seat = requireFound(await db.selectFrom('seats').selectAll().where('id', '=', seatId).executeTakeFirst(), 'seat');
  assertContractVisible(actor, seat.contract_id, 'seat');
  return seat;
}

export async function getSeat(ctx: ServiceContext, actor: Actor, seatId: string): Promise<SeatView> {
  return seatView(ctx.db, await loadSeat(ctx.db, actor, seatId));
}

export async function listSeats(ctx: ServiceContext, actor: Actor, contractId: string): Promise<SeatView[]> {
  assertContractVisible(actor, contractId);
  const seats = await ctx.db.selectFrom('seats').selectAll().where('contract_id', '=', contractId).orderBy('created_at').orderBy('id').execute();
  return Promise.all(seats.map((s) => seatView(ctx.db, s)));
}

/**
 * Moves the seat to another user, or to nobody when parking. Its synced data stays with it (private mail
 * then visible to nobody, store/visibility.ts); its email and calendar grants end as R-22 says, in the same
 * transaction, so the new holder never sends from or syncs the previous holder's mailbox and connects their own.
 */
export async function changeSeatHolder(
  ctx: ServiceContext,
  actor: Actor,
  seatId: string,
  toUserId: string | null,
  jobs?: Pick<Jobs, 'send'>,
): Promise<SeatView> {
  const now = ctx.clock.now();
  let endedGrants = 0;
  const view = await ctx.db.transaction().execute(async (trx) => {
    const seat = await loadSeat(trx, actor, seatId);
    assertContractAdmin(actor, seat.contract_id, 'seat');
    if (toUserId !== null && toUserId === seat.user_id) throw conflict('The seat is already held by this user.');
    if (toUserId !== null) await requireUserOfContract(trx, toUserId, seat.contract_id);
    // Locks the grants before the holder changes: a sync batch that checks its grant (ingestBatch) waits, then writes nothing.
    const ended = await deauthorizeGrants(trx, {
      contractId: seat.contract_id,
      kinds: ['email', 'calendar'],
      seatId,
      reason: toUserId ? 'seat_transferred' : 'seat_parked',
      actor,
      now,
    });
    endedGrants = ended.length;
    // Already parked: nothing else changes (a grant left from before grants ended with the holder is ended above).
    if (toUserId === null && seat.user_id === null) return seatView(trx, seat);
    await trx.updateTable('seat_holders').set({ held_until: now }).where('seat_id', '=', seatId).where('held_until', 'is', null).execute();
    if (toUserId !== null) {
      await trx.insertInto('seat_holders').values({ seat_id: seatId, contract_id: seat.contract_id, user_id: toUserId, held_from: now, held_until: null }).execute();
    }
    const updated = await trx
      .updateTable('seats')
      .set({ user_id: toUserId, status: toUserId ? 'active' : 'parked' })
      .where('id', '=', seatId)
      .returningAll()
      .executeTakeFirstOrThrow();
    await recordAudit(trx, {
      contractId: seat.contract_id,
      actor,
      action: toUserId ? 'seat.transferred' : 'seat.parked',
      targetType: 'seat',
      targetId: seatId,
      at: now,
      details: { fromUserId: seat.user_id, toUserId, deauthorized: ended.map((g) => g.kind) },
    });
    return seatView(trx, updated);
  });
  // R-22: the ended grants' push channels are stopped and tokens revoked now, not at the schedule's next round.
  if (endedGrants > 0 && jobs) await jobs.send('tokens.revoke', {}, { singletonKey: 'tokens.revoke:deauthorized' });
  return view;
}
