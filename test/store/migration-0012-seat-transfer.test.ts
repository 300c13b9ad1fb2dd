import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/ids.ts';
import type { Database } from '../../src/store/database.ts';
import { up } from '../../src/store/migrations/0012_seat_transfer.ts';
import { backends } from '../helpers/databases.ts';

/**
 * Migration 0012 (R-62 with ): grants left live by transfers and parks made before those ended them
 * are ended as `deauthorizeGrants` ends them. The rows are written as such a transfer or park left them, then the
 * migration's step runs again over them.
 */
describe.each(backends)('migration 0012 ends grants of earlier transfers and parks on $name', (backend) => {
  let database: Database;
  beforeAll(async () => {
    database = await backend.open();
  });
  afterAll(async () => {
    await database?.close();
  });

  it('ends the previous holder’s and the parked seat’s grants, keeps the current holder’s, and spares a shared Google consent', async () => {
    const db = database.db;
    const t0 = new Date('2026-01-01T00:00:00Z');
    const t1 = new Date('2026-02-01T00:00:00Z');
    const t2 = new Date('2026-03-01T00:00:00Z');
    const contractId = newId();
    await db.insertInto('contracts').values({ id: contractId, name: 'M12', status: 'active', company_domains: ['m12.test'], email_provider: 'google', email_access: 'view', calendar_enabled: true, created_at: t0, updated_at: t0, suspended_at: null }).execute();
    const [rita, nina, sam] = [newId(), newId(), newId()];
    await db.insertInto('users').values([rita, nina, sam].map((id, i) => ({ id, contract_id: contractId, email: `u${i}@m12.test`, name: `U${i}`, role: 'recruiter' as const, password_hash: null, created_at: t0 }))).execute();
    const [transferred, parked, returned] = [newId(), newId(), newId()];
    await db
      .insertInto('seats')
      .values([
        { id: transferred, contract_id: contractId, user_id: nina, status: 'active', created_at: t0 },
        { id: parked, contract_id: contractId, user_id: null, status: 'parked', created_at: t0 },
        { id: returned, contract_id: contractId, user_id: sam, status: 'active', created_at: t0 },
      ])
      .execute();
    await db
      .insertInto('seat_holders')
      .values([
        { seat_id: transferred, contract_id: contractId, user_id: rita, held_from: t0, held_until: t1 },
        { seat_id: transferred, contract_id: contractId, user_id: nina, held_from: t1, held_until: null },
        { seat_id: parked, contract_id: contractId, user_id: sam, held_from: t0, held_until: t1 },
        // Sam's seat went away and came back to him: his old calendar grant is of the same Google account as the email he connected again.
        { seat_id: returned, contract_id: contractId, user_id: sam, held_from: t0, held_until: t1 },
        { seat_id: returned, contract_id: contractId, user_id: sam, held_from: t1, held_until: null },
      ])
      .execute();
    const grant = (seatId: string, kind: 'email' | 'calendar', address: string, at: Date) => ({
      id: newId(), seat_id: seatId, contract_id: contractId, kind, provider: 'google' as const, state: 'authorized' as const, address, aliases: [], scopes: ['s'],
      access_token_ciphertext: 'sealed-access', refresh_token_ciphertext: `sealed-refresh-${kind}-${address}`, access_token_expires_at: t2,
      first_authorized_at: at, last_authorized_at: at, deauthorized_at: null, state_reason: null, updated_at: at, refresh_lease_id: null, refresh_lease_until: null,
    });
    const ritasEmail = grant(transferred, 'email', 'rita@m12.test', t0);
    const parkedEmail = grant(parked, 'email', 'sam.old@m12.test', t0);
    const samsCalendar = grant(returned, 'calendar', 'Sam@m12.test', t0);
    const samsEmail = grant(returned, 'email', 'sam@m12.test', t2);
    await db.insertInto('mailbox_authorizations').values([ritasEmail, parkedEmail, samsCalendar, samsEmail]).execute();
    await db
      .insertInto('push_subscriptions')
      .values([ritasEmail, samsEmail].map((g) => ({ id: newId(), contract_id: contractId, authorization_id: g.id, provider: 'google' as const, external_id: g.address, resource: 'topic', client_state_hash: null, expires_at: t2, created_at: g.last_authorized_at, renew_requested_at: null, renewed_at: null })))
      .execute();

    await up(db as never);

    const rows = await db.selectFrom('mailbox_authorizations').select(['id', 'state', 'state_reason', 'refresh_token_ciphertext']).where('contract_id', '=', contractId).execute();
    const state = (id: string) => rows.find((r) => r.id === id);
    expect(state(ritasEmail.id)).toMatchObject({ state: 'deauthorized', state_reason: 'seat_transferred', refresh_token_ciphertext: null });
    expect(state(parkedEmail.id)).toMatchObject({ state: 'deauthorized', state_reason: 'seat_parked', refresh_token_ciphertext: null });
    expect(state(samsCalendar.id)).toMatchObject({ state: 'deauthorized', state_reason: 'seat_transferred', refresh_token_ciphertext: null });
    expect(state(samsEmail.id)).toMatchObject({ state: 'authorized', state_reason: null, refresh_token_ciphertext: samsEmail.refresh_token_ciphertext });

    // Revoked at Google: the ended email grants' tokens, not Sam's calendar token (revoking it would end his email, R-05).
    const revocations = await db.selectFrom('token_revocations').select(['token_bound_to', 'reason']).where('contract_id', '=', contractId).orderBy('reason').execute();
    expect(revocations).toEqual([
      { token_bound_to: `${parkedEmail.id}:refresh`, reason: 'seat_parked' },
      { token_bound_to: `${ritasEmail.id}:refresh`, reason: 'seat_transferred' },
    ]);
    // Rita's watch is queued to be stopped with her tokens; Sam's live one stays.
    expect(await db.selectFrom('push_stops').select(['authorization_id', 'refresh_token_ciphertext']).where('contract_id', '=', contractId).execute()).toEqual([
      { authorization_id: ritasEmail.id, refresh_token_ciphertext: ritasEmail.refresh_token_ciphertext },
    ]);
    expect((await db.selectFrom('push_subscriptions').select('authorization_id').where('contract_id', '=', contractId).execute()).map((r) => r.authorization_id)).toEqual([samsEmail.id]);
    const audited = await db.selectFrom('audit_log').select(['action', 'target_id']).where('contract_id', '=', contractId).execute();
    expect(audited.map((a) => a.target_id).sort()).toEqual([transferred, parked, returned].sort());
    expect(new Set(audited.map((a) => a.action))).toEqual(new Set(['authorization.deauthorized']));

    // Running it again changes nothing more.
    await up(db as never);
    expect(await db.selectFrom('token_revocations').select('id').where('contract_id', '=', contractId).execute()).toHaveLength(2);
  });
});
