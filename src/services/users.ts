import { isValidAddress } from '../domain/addresses.ts';
import type { Role } from '../domain/types.ts';
import { validationFailed } from '../errors.ts';
import { newId } from '../ids.ts';
import { assertContractAdmin, assertContractVisible, conflict, requireFound, type Actor } from './actors.ts';
import { recordAudit } from './audit.ts';
import type { ServiceContext } from './context.ts';
import { hashPassword } from './credentials.ts';
import { passwordProblem } from './password-policy.ts';

export interface UserView {
  id: string;
  contractId: string;
  email: string;
  name: string;
  role: Role;
  seatId: string | null;
}

export async function createUser(
  ctx: ServiceContext,
  actor: Actor,
  contractId: string,
  input: { email: string; name: string; role: Role; password?: string | undefined },
): Promise<UserView> {
  assertContractAdmin(actor, contractId);
  const email = input.email.trim();
  if (!isValidAddress(email)) throw validationFailed(`Not a valid email address: ${email}`, { field: 'email' });
  if (input.password !== undefined) {
    const problem = passwordProblem(input.password, email);
    if (problem) throw validationFailed(problem, { field: 'password' });
  }
  const passwordHash = input.password === undefined ? null : await hashPassword(input.password);
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    requireFound(await trx.selectFrom('contracts').select('id').where('id', '=', contractId).executeTakeFirst(), 'contract');
    // Unique within the contract only: another company's users neither block an address nor show that they have it.
    const taken = await trx
      .selectFrom('users')
      .select('id')
      .where('contract_id', '=', contractId)
      .where((eb) => eb(eb.fn('lower', ['email']), '=', email.toLowerCase()))
      .executeTakeFirst();
    if (taken) throw conflict(`This company already has a user with the email ${email}.`);
    const id = newId();
    await trx
      .insertInto('users')
      .values({ id, contract_id: contractId, email, name: input.name.trim(), role: input.role, password_hash: passwordHash, created_at: now })
      .execute();
    await recordAudit(trx, { contractId, actor, action: 'user.created', targetType: 'user', targetId: id, at: now, details: { role: input.role } });
    return { id, contractId, email, name: input.name.trim(), role: input.role, seatId: null };
  });
}

export async function listUsers(ctx: ServiceContext, actor: Actor, contractId: string): Promise<UserView[]> {
  assertContractVisible(actor, contractId);
  const rows = await ctx.db
    .selectFrom('users')
    .leftJoin('seats', 'seats.user_id', 'users.id')
    .select(['users.id', 'users.contract_id', 'users.email', 'users.name', 'users.role', 'seats.id as seat_id'])
    .where('users.contract_id', '=', contractId)
    .orderBy('users.created_at')
    .orderBy('users.email')
    .execute();
  return rows.map((r) => ({ id: r.id, contractId: r.contract_id, email: r.email, name: r.name, role: r.role, seatId: r.seat_id }));
}

export async function getUser(ctx: ServiceContext, actor: Actor, userId: string): Promise<UserView> {
  const row = requireFound(
    await ctx.db
      .selectFrom('users')
      .leftJoin('seats', 'seats.user_id', 'users.id')
      .select(['users.id', 'users.contract_id', 'users.email', 'users.name', 'users.role', 'seats.id as seat_id'])
      .where('users.id', '=', userId)
      .executeTakeFirst(),
    'user',
  );
  assertContractVisible(actor, row.contract_id, 'user');
  return { id: row.id, contractId: row.contract_id, email: row.email, name: row.name, role: row.role, seatId: row.seat_id };
}
