import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCOPES } from '../../src/domain/scopes.ts';
import type { Database } from '../../src/store/database.ts';
import { startTestApi, type TestApi } from '../helpers/app.ts';
import { backends } from '../helpers/databases.ts';
import { createCompany, insertGrant } from '../helpers/fixtures.ts';

const googleRead = [...SCOPES.google.identity, ...SCOPES.google.read];
const googleSend = [...googleRead, ...SCOPES.google.send];

describe.each(backends)('admin settings (R-01 … R-07) on $name', (backend) => {
  let database: Database;
  let api: TestApi;
  beforeAll(async () => {
    database = await backend.open();
    api = await startTestApi(database);
  });
  afterAll(async () => {
    await api.close();
    await database.close();
  });

  const grants = (contractId: string) =>
    api.ctx.db.selectFrom('mailbox_authorizations').selectAll().where('contract_id', '=', contractId).orderBy('kind').execute();

  async function companyWithSeats(name: string, seatCount: number) {
    const c = await createCompany(api, name, `${name.toLowerCase()}.test`);
    const seats = [c.seat];
    for (let i = 1; i < seatCount; i++) {
      const user = await c.json('POST', `/api/v1/contracts/${c.contract.id}/users`, { email: `r${i}@${name.toLowerCase()}.test`, name: `R${i}`, role: 'recruiter' });
      seats.push(await c.json('POST', `/api/v1/contracts/${c.contract.id}/seats`, { userId: user.id }));
    }
    return { ...c, seats };
  }

  it('R-01/R-02: defaults to no provider and email off; only google or microsoft can be chosen', async () => {
    const c = await createCompany(api, 'One', 'one.test');
    expect(await c.json('GET', `/api/v1/contracts/${c.contract.id}/settings`)).toEqual({ emailProvider: null, emailAccess: 'off', calendarEnabled: false, allowExternalMailboxes: false, notices: [] });
    const bad = await api.call('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { body: { emailProvider: 'yahoo' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('validation_failed');
    // A level without a provider is allowed but flagged: seats cannot connect yet.
    const viewOnly = await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailAccess: 'view' });
    expect(viewOnly.notices.map((n: { code: string; rule: string }) => [n.code, n.rule])).toEqual([['provider_not_selected', 'R-01']]);
    const chosen = await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: 'google' });
    expect(chosen).toMatchObject({ emailProvider: 'google', emailAccess: 'view', notices: [], deauthorizedSeats: 0 });
    const unset = await api.call('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { body: { emailProvider: null } });
    expect(unset.statusCode).toBe(400);
  });

  it('R-02/R-03: a downgrade deauthorizes every seat\'s email grant at once; calendar grants stay', async () => {
    const c = await companyWithSeats('Two', 3);
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: 'google', emailAccess: 'send_and_view', calendarEnabled: true });
    for (const seat of c.seats) await insertGrant(api, { seatId: seat.id, contractId: c.contract.id, kind: 'email', provider: 'google', scopes: googleSend });
    await insertGrant(api, { seatId: c.seats[0].id, contractId: c.contract.id, kind: 'calendar', provider: 'google', scopes: [...SCOPES.google.calendar] });

    const result = await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailAccess: 'view' });
    expect(result.deauthorizedSeats).toBe(3);
    const after = await grants(c.contract.id);
    const email = after.filter((g) => g.kind === 'email');
    expect(email.every((g) => g.state === 'deauthorized' && g.state_reason === 'access_level_downgrade')).toBe(true);
    expect(email.every((g) => g.access_token_ciphertext === null && g.refresh_token_ciphertext === null && g.deauthorized_at !== null)).toBe(true);
    expect(after.find((g) => g.kind === 'calendar')?.state).toBe('authorized');

    // view → off is a downgrade too, but nobody is left to deauthorize.
    expect((await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailAccess: 'off' })).deauthorizedSeats).toBe(0);
  });

  it('R-03: an upgrade deauthorizes nobody; send_and_view → off deauthorizes', async () => {
    const c = await companyWithSeats('Three', 2);
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: 'microsoft', emailAccess: 'view' });
    for (const seat of c.seats) await insertGrant(api, { seatId: seat.id, contractId: c.contract.id, kind: 'email', provider: 'microsoft', scopes: ['Mail.Read'] });
    expect((await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailAccess: 'send_and_view' })).deauthorizedSeats).toBe(0);
    expect((await grants(c.contract.id)).every((g) => g.state === 'authorized')).toBe(true);
    expect((await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailAccess: 'off' })).deauthorizedSeats).toBe(2);
  });

  it('R-04: at view level, seats that still hold a send scope produce a notice for the admin', async () => {
    const c = await companyWithSeats('Four', 2);
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: 'google', emailAccess: 'view' });
    await insertGrant(api, { seatId: c.seats[0].id, contractId: c.contract.id, kind: 'email', provider: 'google', scopes: googleSend });
    await insertGrant(api, { seatId: c.seats[1].id, contractId: c.contract.id, kind: 'email', provider: 'google', scopes: googleRead });
    const settings = await c.json('GET', `/api/v1/contracts/${c.contract.id}/settings`);
    expect(settings.notices).toEqual([expect.objectContaining({ code: 'send_permission_still_granted', rule: 'R-04', seatIds: [c.seats[0].id] })]);
    expect(settings.notices[0].message).toMatch(/IT admin/);
  });

  it('R-05: turning the calendar off and on again deauthorizes nothing', async () => {
    const c = await companyWithSeats('Five', 1);
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: 'google', emailAccess: 'view', calendarEnabled: true });
    await insertGrant(api, { seatId: c.seat.id, contractId: c.contract.id, kind: 'email', provider: 'google', scopes: googleRead });
    await insertGrant(api, { seatId: c.seat.id, contractId: c.contract.id, kind: 'calendar', provider: 'google', scopes: [...SCOPES.google.calendar] });
    expect((await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { calendarEnabled: false })).deauthorizedSeats).toBe(0);
    expect((await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { calendarEnabled: true })).calendarEnabled).toBe(true);
    expect((await grants(c.contract.id)).every((g) => g.state === 'authorized')).toBe(true);
  });

  it('R-06: a provider change ends every grant at the old provider, email and calendar', async () => {
    const c = await companyWithSeats('Six', 2);
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: 'google', emailAccess: 'send_and_view', calendarEnabled: true });
    for (const seat of c.seats) await insertGrant(api, { seatId: seat.id, contractId: c.contract.id, kind: 'email', provider: 'google', scopes: googleSend });
    await insertGrant(api, { seatId: c.seats[1].id, contractId: c.contract.id, kind: 'calendar', provider: 'google', scopes: [...SCOPES.google.calendar] });
    const result = await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: 'microsoft' });
    expect(result).toMatchObject({ emailProvider: 'microsoft', emailAccess: 'send_and_view', deauthorizedSeats: 2 });
    const after = await grants(c.contract.id);
    expect(after).toHaveLength(3);
    expect(after.every((g) => g.state === 'deauthorized' && g.state_reason === 'provider_change' && g.refresh_token_ciphertext === null)).toBe(true);
  });

  it('R-07: settings changes and deauthorizations are audited, newest first, and the log is append-only', async () => {
    const c = await companyWithSeats('Seven', 1);
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: 'google', emailAccess: 'send_and_view' });
    await insertGrant(api, { seatId: c.seat.id, contractId: c.contract.id, kind: 'email', provider: 'google', scopes: googleSend });
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailAccess: 'view' });
    const page = await c.json('GET', `/api/v1/contracts/${c.contract.id}/audit?limit=3`);
    expect(page.entries.map((e: { action: string }) => e.action)).toEqual(['settings.changed', 'authorization.deauthorized', 'settings.changed']);
    expect(page.entries[0].details).toEqual({ changes: { emailAccess: { from: 'send_and_view', to: 'view' } }, deauthorizedSeats: 1 });
    expect(page.entries[1]).toMatchObject({ targetType: 'seat', targetId: c.seat.id, details: { kind: 'email', reason: 'access_level_downgrade' } });
    const next = await c.json('GET', `/api/v1/contracts/${c.contract.id}/audit?limit=3&before=${page.nextCursor}`);
    expect(next.entries[0].id).toBeLessThan(page.entries[2].id);
    await expect(api.ctx.db.updateTable('audit_log').set({ action: 'tampered' }).where('contract_id', '=', c.contract.id).execute()).rejects.toThrow(/append-only/);
    await expect(api.ctx.db.deleteFrom('audit_log').where('contract_id', '=', c.contract.id).execute()).rejects.toThrow(/append-only/);
  });

  it('only admins change settings; recruiters may read them', async () => {
    const c = await createCompany(api, 'Eight', 'eight.test');
    const asRecruiter = await api.call('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { token: c.contractToken, actAs: c.recruiter.id, body: { emailAccess: 'view' } });
    expect(asRecruiter.statusCode).toBe(403);
    expect(asRecruiter.json().error.code).toBe('forbidden');
    const read = await api.call('GET', `/api/v1/contracts/${c.contract.id}/settings`, { token: c.contractToken, actAs: c.recruiter.id });
    expect(read.statusCode).toBe(200);
    const asAdmin = await api.call('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { token: c.contractToken, actAs: c.admin.id, body: { emailAccess: 'view' } });
    expect(asAdmin.statusCode).toBe(200);
    const audit = await c.json('GET', `/api/v1/contracts/${c.contract.id}/audit?limit=1`);
    expect(audit.entries[0]).toMatchObject({ action: 'settings.changed', actorKind: 'user', actorUserId: c.admin.id });
  });
});
