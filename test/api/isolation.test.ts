import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routeRegistry } from '../../src/api/route.ts';
import type { Database } from '../../src/store/database.ts';
import { startTestApi, type TestApi } from '../helpers/app.ts';
import { backends } from '../helpers/databases.ts';
import { createCompany, insertMessage } from '../helpers/fixtures.ts';

type Company = Awaited<ReturnType<typeof createCompany>> & { messageId?: string; threadId?: string; interviewId?: string };

/**
 * Contract isolation: every route that names a resource, called with the credentials of another contract,
 * answers `not_found` and changes nothing. The route list comes from the registry, so a new route without
 * an entry below fails this test until someone decides how it is isolated.
 */
function requestFor(route: { method: string; url: string }, a: Company): { url: string; body?: unknown } | 'no-resource' {
  const ids: Record<string, string> = {
    '/api/v1/contracts/{id}': a.contract.id,
    '/api/v1/users/{id}': a.recruiter.id,
    '/api/v1/seats/{id}': a.seat.id,
    '/api/v1/candidates/{id}': a.candidate.id,
    '/api/v1/projects/{id}': a.project.id,
    '/api/v1/messages/{id}': a.messageId!,
    '/api/v1/threads/{id}': a.threadId!,
    '/api/v1/interviews/{id}': a.interviewId!,
  };
  const prefix = Object.keys(ids).find((p) => route.url === p || route.url.startsWith(`${p}/`));
  if (!prefix) return 'no-resource';
  // Second-level ids: the first id already belongs to the other contract, so any value of these must find nothing.
  const url = route.url
    .replace('{id}', ids[prefix]!)
    .replace('{candidateId}', a.candidate.id)
    .replace('{kind}', 'email')
    .replace('{address}', encodeURIComponent('carla@mail.example'))
    .replace('{attachmentId}', randomUUID())
    .replace('{receiptId}', randomUUID())
    // The image proxy needs the image's address; any address of another contract's message must find nothing.
    .concat(route.url === '/api/v1/messages/{id}/images' ? `?url=${encodeURIComponent('https://images.example/logo.png')}` : '');
  const bodies: Record<string, unknown> = {
    'PATCH /api/v1/contracts/{id}': { name: 'Taken over' },
    'POST /api/v1/contracts/{id}/users': { email: 'intruder@elsewhere.test', name: 'Intruder', role: 'admin' },
    'POST /api/v1/contracts/{id}/seats': { userId: null },
    'POST /api/v1/contracts/{id}/candidates': { name: 'Planted', emails: [] },
    'POST /api/v1/contracts/{id}/projects': { name: 'Planted' },
    'PUT /api/v1/contracts/{id}/settings': { emailAccess: 'off' },
    'POST /api/v1/seats/{id}/transfer': { toUserId: a.admin.id },
    'PATCH /api/v1/candidates/{id}': { name: 'Renamed' },
    'PUT /api/v1/candidates/{id}/connections': { userId: a.recruiter.id, degree: 1 },
    'PATCH /api/v1/projects/{id}': { status: 'closed' },
    'POST /api/v1/seats/{id}/authorizations': { kind: 'email' },
    'POST /api/v1/seats/{id}/authorizations/complete': { flow: 'a-flow-id' },
    'PATCH /api/v1/messages/{id}': { visibility: 'contract' },
    'POST /api/v1/candidates/{id}/emails': { subject: 'Hello', bodyText: 'Hi' },
    'POST /api/v1/candidates/{id}/interviews': { title: 'Planted', start: '2026-12-07T10:00:00+01:00', end: '2026-12-07T10:30:00+01:00', conferencing: 'none' },
    'PATCH /api/v1/threads/{id}': { visibility: 'contract' },
    'POST /api/v1/projects/{id}/candidates': { candidateId: a.candidate.id },
    'PATCH /api/v1/interviews/{id}': { start: '2026-12-08T10:00:00+01:00', end: '2026-12-08T10:30:00+01:00' },
  };
  const key = `${route.method} ${route.url}`;
  return key in bodies ? { url, body: bodies[key] } : { url };
}

describe.each(backends)('contract isolation on $name', (backend) => {
  let database: Database;
  let api: TestApi;
  let a: Company;
  let b: Company;
  beforeAll(async () => {
    database = await backend.open();
    api = await startTestApi(database);
    a = await createCompany(api, 'Alpha', 'alpha.test');
    b = await createCompany(api, 'Bravo', 'bravo.test');
    for (const c of [a, b]) {
      await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: 'google', emailAccess: 'view' });
    }
    Object.assign(a, await insertMessage(api, { contractId: a.contract.id, seatId: a.seat.id, ownerUserId: a.recruiter.id, candidateId: a.candidate.id, visibility: 'contract' }));
    // A screening of contract A, so that the interview routes are tried on a real id.
    a.interviewId = randomUUID();
    const at = new Date('2026-12-07T09:00:00Z');
    await api.ctx.db
      .insertInto('calendar_events')
      .values({ id: a.interviewId, contract_id: a.contract.id, seat_id: a.seat.id, user_id: a.recruiter.id, candidate_id: a.candidate.id, provider: 'google', provider_event_id: 'evt-isolation', title: 'Screening', starts_at: at, ends_at: new Date(at.getTime() + 30 * 60_000), conferencing: 'none', join_url: null, created_at: at })
      .execute();
  });
  afterAll(async () => {
    await api.close();
    await database.close();
  });

  const resourceRoutes = () => routeRegistry.filter((r) => r.auth === 'caller' && r.url.includes('{'));

  it('covers every resource route', () => {
    expect(resourceRoutes().length).toBeGreaterThanOrEqual(20);
    for (const route of resourceRoutes()) expect(requestFor(route, a), `${route.method} ${route.url}`).not.toBe('no-resource');
  });

  const callers = () => [
    { label: "another contract's integration token", token: b.contractToken },
    { label: "another contract's admin (act-as)", token: b.contractToken, actAs: b.admin.id },
  ];

  it("answers not_found for another contract's ids on every route, and changes nothing", async () => {
    const before = await api.ctx.db.selectFrom('audit_log').select((eb) => eb.fn.countAll<number>().as('n')).where('contract_id', '=', a.contract.id).executeTakeFirstOrThrow();
    for (const caller of callers()) {
      for (const route of resourceRoutes()) {
        const request = requestFor(route, a);
        if (request === 'no-resource') continue;
        const res = await api.call(route.method, request.url, { token: caller.token, ...(caller.actAs ? { actAs: caller.actAs } : {}), body: request.body });
        expect([res.statusCode, res.json().error?.code], `${caller.label}: ${route.method} ${route.url}`).toEqual([404, 'not_found']);
      }
    }
    const after = await api.ctx.db.selectFrom('audit_log').select((eb) => eb.fn.countAll<number>().as('n')).where('contract_id', '=', a.contract.id).executeTakeFirstOrThrow();
    expect(Number(after.n)).toBe(Number(before.n));
    expect((await a.json('GET', `/api/v1/contracts/${a.contract.id}`)).name).toBe('Alpha');
    expect((await a.json('GET', `/api/v1/candidates/${a.candidate.id}`)).name).toBe('Carla Candidate');
  });

  it("shows no preview of another contract's candidates", async () => {
    const res = await api.call('GET', `/api/v1/pipeline/message-previews?candidateIds=${a.candidate.id}`, { token: b.contractToken, actAs: b.recruiter.id });
    expect(res.json()).toEqual({ [a.candidate.id]: { count: 0, latest: null } });
  });

  it('a contract token cannot act as a user of another contract, create contracts, or list others', async () => {
    const actAs = await api.call('GET', `/api/v1/contracts/${b.contract.id}`, { token: b.contractToken, actAs: a.admin.id });
    expect(actAs.statusCode).toBe(404);
    const create = await api.call('POST', '/api/v1/contracts', { token: b.contractToken, body: { name: 'Shadow', companyDomains: ['shadow.test'] } });
    expect([create.statusCode, create.json().error.code]).toEqual([403, 'forbidden']);
    const list = await api.call('GET', '/api/v1/contracts', { token: b.contractToken });
    expect(list.json().map((c: { id: string }) => c.id)).toEqual([b.contract.id]);
  });

  it('a signed-in user of another contract gets not_found too', async () => {
    const signIn = await api.call('POST', '/api/v1/session', { token: null, body: { email: 'admin@bravo.test', password: 'correct horse battery' } });
    const cookie = signIn.cookies.find((k) => k.name === 'rs_session')!.value;
    const headers = { cookie: `rs_session=${cookie}`, 'x-csrf-token': signIn.json().csrfToken };
    for (const url of [`/api/v1/contracts/${a.contract.id}/settings`, `/api/v1/seats/${a.seat.id}`, `/api/v1/candidates/${a.candidate.id}`]) {
      expect((await api.call('GET', url, { token: null, headers })).statusCode).toBe(404);
    }
    const put = await api.call('PUT', `/api/v1/contracts/${a.contract.id}/settings`, { token: null, headers, body: { emailAccess: 'view' } });
    expect(put.statusCode).toBe(404);
  });

  it('rejects missing and unknown credentials with unauthenticated', async () => {
    const none = await api.call('GET', `/api/v1/contracts/${a.contract.id}`, { token: null });
    expect([none.statusCode, none.json().error.code]).toEqual([401, 'unauthenticated']);
    const unknown = await api.call('GET', `/api/v1/contracts/${a.contract.id}`, { token: 'rs_ct_forged' });
    expect([unknown.statusCode, unknown.json().error.code]).toEqual([401, 'unauthenticated']);
  });
});
