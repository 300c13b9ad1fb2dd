import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/store/database.ts';
import { startTestApi, type TestApi } from '../helpers/app.ts';
import { backends } from '../helpers/databases.ts';
import { createCompany } from '../helpers/fixtures.ts';

describe.each(backends)('tenancy and people on $name', (backend) => {
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

  it('builds a company: contract, token, users, seats, candidates, pipeline', async () => {
    const c = await createCompany(api);
    expect(c.contract).toMatchObject({ name: 'Acme', status: 'active', companyDomains: ['acme.test'] });
    expect(c.contractToken).toMatch(/^rs_ct_/);
    expect(c.seat).toMatchObject({ userId: c.recruiter.id, status: 'active' });
    const candidate = await c.json('GET', `/api/v1/candidates/${c.candidate.id}`);
    expect(candidate).toMatchObject({ emails: ['carla@mail.example'], inPipeline: true, projectIds: [c.project.id] });
    // Closing the only project takes the candidate out of the pipeline.
    await c.json('PATCH', `/api/v1/projects/${c.project.id}`, { status: 'closed' });
    expect((await c.json('GET', `/api/v1/candidates/${c.candidate.id}`)).inPipeline).toBe(false);
  });

  it('keeps seat holder history through transfer and park', async () => {
    const c = await createCompany(api, 'Beta', 'beta.test');
    const other = await c.json('POST', `/api/v1/contracts/${c.contract.id}/users`, { email: 'otto@beta.test', name: 'Otto', role: 'recruiter' });
    api.clock.set(new Date(api.clock.now().getTime() + 60_000));
    const transferred = await c.json('POST', `/api/v1/seats/${c.seat.id}/transfer`, { toUserId: other.id });
    expect(transferred.userId).toBe(other.id);
    const parked = await c.json('POST', `/api/v1/seats/${c.seat.id}/park`);
    expect(parked).toMatchObject({ userId: null, status: 'parked' });
    expect(parked.holders.map((h: { userId: string }) => h.userId)).toEqual([c.recruiter.id, other.id]);
    expect(parked.holders.every((h: { until: string | null }) => h.until !== null)).toBe(true);
    // A user holds one seat at a time.
    const second = await api.call('POST', `/api/v1/contracts/${c.contract.id}/seats`, { body: { userId: c.admin.id } });
    expect(second.statusCode).toBe(201);
    const third = await api.call('POST', `/api/v1/contracts/${c.contract.id}/seats`, { body: { userId: c.admin.id } });
    expect(third.statusCode).toBe(409);
  });

  it('validates and normalizes candidate emails, refusing an address owned by another profile', async () => {
    const c = await createCompany(api, 'Gamma', 'gamma.test');
    const bad = await api.call('POST', `/api/v1/contracts/${c.contract.id}/candidates`, { body: { name: 'X', emails: ['not-an-email'] } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('validation_failed');
    const dup = await api.call('POST', `/api/v1/contracts/${c.contract.id}/candidates`, { body: { name: 'Y', emails: ['Carla+jobs@MAIL.example'] } });
    expect(dup.statusCode).toBe(409);
    const patched = await c.json('PATCH', `/api/v1/candidates/${c.candidate.id}`, { emails: ['carla@mail.example', 'carla.c@other.example'], emailDiscovery: 'first_degree' });
    expect(patched).toMatchObject({ emails: ['carla@mail.example', 'carla.c@other.example'], emailDiscovery: 'first_degree' });
    const found = await c.json('GET', `/api/v1/contracts/${c.contract.id}/candidates?q=other.example`);
    expect(found.map((x: { id: string }) => x.id)).toEqual([c.candidate.id]);
  });

  it('records network degrees for users of the same contract only', async () => {
    const c = await createCompany(api, 'Delta', 'delta.test');
    const conn = await c.json('PUT', `/api/v1/candidates/${c.candidate.id}/connections`, { userId: c.recruiter.id, degree: 2 });
    expect(conn).toEqual({ candidateId: c.candidate.id, userId: c.recruiter.id, degree: 2 });
    await c.json('PUT', `/api/v1/candidates/${c.candidate.id}/connections`, { userId: c.recruiter.id, degree: 1 });
    expect(await c.json('GET', `/api/v1/candidates/${c.candidate.id}/connections`)).toEqual([{ candidateId: c.candidate.id, userId: c.recruiter.id, degree: 1 }]);
    const stranger = await createCompany(api, 'Epsilon', 'epsilon.test');
    const cross = await api.call('PUT', `/api/v1/candidates/${c.candidate.id}/connections`, { body: { userId: stranger.recruiter.id, degree: 1 } });
    expect(cross.statusCode).toBe(404);
  });

  it('signs users in with a session cookie and requires the CSRF header for changes', async () => {
    const c = await createCompany(api, 'Zeta', 'zeta.test');
    const wrong = await api.call('POST', '/api/v1/session', { token: null, body: { email: 'admin@zeta.test', password: 'nope nope nope' } });
    expect(wrong.statusCode).toBe(401);
    const signIn = await api.call('POST', '/api/v1/session', { token: null, body: { email: 'ADMIN@zeta.test', password: 'correct horse battery' } });
    expect(signIn.statusCode).toBe(200);
    const cookie = signIn.cookies.find((k) => k.name === 'rs_session');
    expect(cookie?.httpOnly).toBe(true);
    const { csrfToken } = signIn.json();
    const headers = { cookie: `rs_session=${cookie?.value}` };
    const read = await api.call('GET', `/api/v1/contracts/${c.contract.id}/settings`, { token: null, headers });
    expect(read.statusCode).toBe(200);
    const noCsrf = await api.call('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { token: null, headers, body: { calendarEnabled: true } });
    expect(noCsrf.statusCode).toBe(403);
    const withCsrf = await api.call('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { token: null, headers: { ...headers, 'x-csrf-token': csrfToken }, body: { calendarEnabled: true } });
    expect(withCsrf.statusCode).toBe(200);
    const out = await api.call('DELETE', '/api/v1/session', { token: null, headers });
    expect(out.statusCode).toBe(204);
    expect((await api.call('GET', `/api/v1/contracts/${c.contract.id}/settings`, { token: null, headers })).statusCode).toBe(401);
  });

  it('stores passwords and tokens only as hashes', async () => {
    const c = await createCompany(api, 'Eta', 'eta.test');
    const users = await api.ctx.db.selectFrom('users').select('password_hash').where('contract_id', '=', c.contract.id).execute();
    expect(users.every((u) => u.password_hash?.startsWith('scrypt$') && !u.password_hash.includes('correct horse'))).toBe(true);
    const tokens = await api.ctx.db.selectFrom('api_tokens').select('token_hash').execute();
    expect(tokens.some((t) => t.token_hash === c.contractToken)).toBe(false);
  });
});
