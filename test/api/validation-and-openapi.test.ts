import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/store/database.ts';
import { startTestApi, type TestApi } from '../helpers/app.ts';
import { backends } from '../helpers/databases.ts';
import { createCompany } from '../helpers/fixtures.ts';

describe('request validation and the OpenAPI document', () => {
  let database: Database;
  let api: TestApi;
  let company: Awaited<ReturnType<typeof createCompany>>;
  beforeAll(async () => {
    database = await backends[0]!.open();
    api = await startTestApi(database);
    company = await createCompany(api);
  });
  afterAll(async () => {
    await api.close();
    await database.close();
  });

  const badRequests = () => [
    ['POST', '/api/v1/contracts', { name: '', companyDomains: ['acme.test'] }, 'body.name'],
    ['POST', '/api/v1/contracts', { name: 'X', companyDomains: ['not a domain'] }, 'companyDomains'],
    ['POST', '/api/v1/contracts', { name: 'X', companyDomains: ['x.test'], extra: 1 }, 'body'],
    ['POST', `/api/v1/contracts/${company.contract.id}/users`, { email: 'x@acme.test', name: 'X', role: 'owner' }, 'body.role'],
    ['POST', `/api/v1/contracts/${company.contract.id}/users`, { email: 'x@acme.test', name: 'X', role: 'admin', password: 'short' }, 'body.password'],
    ['POST', `/api/v1/contracts/${company.contract.id}/candidates`, { name: 'X', emails: ['x@acme.test'], emailDiscovery: 'everyone' }, 'body.emailDiscovery'],
    ['PUT', `/api/v1/candidates/${company.candidate.id}/connections`, { userId: company.recruiter.id, degree: 4 }, 'body.degree'],
    ['PUT', `/api/v1/contracts/${company.contract.id}/settings`, { emailAccess: 'read' }, 'body.emailAccess'],
    ['PUT', `/api/v1/contracts/${company.contract.id}/settings`, { calendarEnabled: 'yes' }, 'body.calendarEnabled'],
    ['PATCH', `/api/v1/projects/${company.project.id}`, { status: 'archived' }, 'body.status'],
    ['GET', '/api/v1/seats/not-a-uuid', undefined, 'params.id'],
    ['GET', `/api/v1/contracts/${company.contract.id}/audit?limit=0`, undefined, 'query.limit'],
  ] as const;

  it('answers every bad body with validation_failed naming the field, and stores nothing', async () => {
    const before = await api.ctx.db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    for (const [method, url, body, field] of badRequests()) {
      const res = await api.call(method, url, { body });
      expect(res.statusCode, `${method} ${url}`).toBe(400);
      const error = res.json().error;
      expect(error.code).toBe('validation_failed');
      expect(error.message).toContain(field);
    }
    const after = await api.ctx.db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    expect(Number(after.n)).toBe(Number(before.n));
  });

  it('answers malformed JSON with validation_failed', async () => {
    const res = await api.app.inject({
      method: 'POST',
      url: '/api/v1/contracts',
      headers: { authorization: `Bearer ${api.systemToken}`, 'content-type': 'application/json' },
      payload: '{"name": ',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('validation_failed');
  });

  it('lists every route of API.md "Tenancy and people" and "Admin settings"', async () => {
    const doc = (await api.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const expected = [
      'post /api/v1/contracts', 'get /api/v1/contracts/{id}', 'patch /api/v1/contracts/{id}', 'post /api/v1/contracts/{id}/tokens',
      'post /api/v1/contracts/{id}/users', 'post /api/v1/contracts/{id}/seats', 'post /api/v1/seats/{id}/transfer', 'post /api/v1/seats/{id}/park',
      'post /api/v1/contracts/{id}/candidates', 'patch /api/v1/candidates/{id}', 'put /api/v1/candidates/{id}/connections',
      'post /api/v1/contracts/{id}/projects', 'post /api/v1/projects/{id}/candidates', 'delete /api/v1/projects/{id}/candidates/{candidateId}',
      'patch /api/v1/projects/{id}', 'get /api/v1/contracts/{id}/settings', 'put /api/v1/contracts/{id}/settings',
      'get /api/v1/contracts/{id}/audit', 'get /api/v1/contracts/{id}/sync-health',
    ];
    const listed = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`));
    for (const route of expected) expect(listed).toContain(route);
    expect(doc.openapi).toBe('3.1.0');
    const settingsPut = doc.paths['/api/v1/contracts/{id}/settings'].put;
    expect(settingsPut.requestBody.content['application/json'].schema.properties.emailAccess.enum).toEqual(['off', 'view', 'send_and_view']);
    expect(settingsPut.responses['200'].content['application/json'].schema.properties).toHaveProperty('deauthorizedSeats');
  });

  it('serves /healthz and Prometheus /metrics without secrets', async () => {
    expect((await api.app.inject({ method: 'GET', url: '/healthz' })).json().status).toBe('ok');
    const metrics = await api.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toContain('recruiter_sync_http_requests_total');
    expect(metrics.body).not.toContain(api.systemToken);
  });
});
