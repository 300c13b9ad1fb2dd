import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/store/database.ts';
import { startTestApi, type TestApi } from '../helpers/app.ts';
import { backends } from '../helpers/databases.ts';
import { createCompany, insertMessage } from '../helpers/fixtures.ts';

interface Entry {
  action: string;
  actorUserId: string | null;
  actorName: string | null;
  targetType: string | null;
  targetName: string | null;
  userNames: Record<string, string>;
}

/** the audit log names who did what to whom, filters by person and action, and pages. */
describe.each(backends)('audit log filters and names on $name', (backend) => {
  let database: Database;
  let api: TestApi;
  let n = 0;
  beforeAll(async () => {
    database = await backend.open();
    api = await startTestApi(database);
  });
  afterAll(async () => {
    await api.close();
    await database.close();
  });

  it('filters by actor and by action, pages the filtered list, and names actor, target and mentioned users', async () => {
    const domain = `audit${++n}.test`;
    const c = await createCompany(api, `Audit ${n}`, domain);
    const base = `/api/v1/contracts/${c.contract.id}/audit`;
    const as = (userId: string) => ({ token: c.contractToken, actAs: userId });
    await api.call('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { ...as(c.admin.id), body: { emailProvider: 'google' } });
    await api.call('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { ...as(c.admin.id), body: { emailAccess: 'view' } });
    await api.call('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { ...as(c.admin.id), body: { emailAccess: 'send_and_view' } });
    const newcomer = await c.json('POST', `/api/v1/contracts/${c.contract.id}/users`, { email: `nina@${domain}`, name: 'Nina New', role: 'recruiter' });
    await c.json('POST', `/api/v1/seats/${c.seat.id}/transfer`, { toUserId: newcomer.id });

    const byAdmin: { entries: Entry[]; nextCursor: string | null } = await c.json('GET', `${base}?actorUserId=${c.admin.id}&action=settings.changed&limit=2`);
    expect(byAdmin.entries).toHaveLength(2);
    expect(byAdmin.entries.every((e) => e.action === 'settings.changed' && e.actorUserId === c.admin.id && e.actorName === 'Ada Admin')).toBe(true);
    expect(byAdmin.nextCursor).not.toBeNull();
    const rest = await c.json('GET', `${base}?actorUserId=${c.admin.id}&action=settings.changed&limit=2&before=${byAdmin.nextCursor}`);
    expect(rest.entries).toHaveLength(1);
    expect(rest.nextCursor).toBeNull();

    const transfers: { entries: Entry[] } = await c.json('GET', `${base}?action=seat.transferred`);
    expect(transfers.entries).toHaveLength(1);
    // The seat is named by its holder; the previous and new holder by name too.
    expect(transfers.entries[0]).toMatchObject({ targetType: 'seat', targetName: 'Nina New', userNames: { [c.recruiter.id]: 'Rita Recruiter', [newcomer.id]: 'Nina New' } });

    const bad = await api.call('GET', `${base}?actorUserId=not-a-uuid`, { token: c.contractToken });
    expect([bad.statusCode, bad.json().error.code]).toEqual([400, 'validation_failed']);
  });

  it('names a thread only while it is shared: an admin never reads the subject of private mail (R-61, R-63)', async () => {
    const domain = `audit${++n}.test`;
    const c = await createCompany(api, `Audit ${n}`, domain);
    const as = (userId: string) => ({ token: c.contractToken, actAs: userId });
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: 'google', emailAccess: 'view' });
    const shared = await insertMessage(api, { contractId: c.contract.id, seatId: c.seat.id, ownerUserId: c.recruiter.id, candidateId: c.candidate.id, providerThreadId: 'shared', subject: 'Frontend role' });
    const secret = await insertMessage(api, { contractId: c.contract.id, seatId: c.seat.id, ownerUserId: c.recruiter.id, candidateId: c.candidate.id, providerThreadId: 'secret', subject: 'Counter offer' });
    expect((await api.call('PATCH', `/api/v1/threads/${shared.threadId}`, { ...as(c.recruiter.id), body: { visibility: 'contract' } })).statusCode).toBe(200);
    expect((await api.call('PATCH', `/api/v1/threads/${secret.threadId}`, { ...as(c.recruiter.id), body: { visibility: 'contract' } })).statusCode).toBe(200);
    expect((await api.call('PATCH', `/api/v1/threads/${secret.threadId}`, { ...as(c.recruiter.id), body: { visibility: 'private' } })).statusCode).toBe(200);

    const page: { entries: Entry[] } = await c.json('GET', `/api/v1/contracts/${c.contract.id}/audit?action=thread.visibility_changed`);
    const names = page.entries.map((e) => [e.actorName, e.targetName]);
    expect(names).toEqual([
      ['Rita Recruiter', null],
      ['Rita Recruiter', null],
      ['Rita Recruiter', 'Frontend role'],
    ]);
    expect(JSON.stringify(page)).not.toContain('Counter offer');
  });
});
