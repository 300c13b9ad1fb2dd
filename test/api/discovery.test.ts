import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/store/database.ts';
import { startTestApi, type TestApi } from '../helpers/app.ts';
import { backends } from '../helpers/databases.ts';
import { createCompany } from '../helpers/fixtures.ts';

/** the discovery setting is the candidate's own choice; only the host system (system token) sets it. */
describe.each(backends)("a candidate's email discovery setting (R-34) on $name", (backend) => {
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

  const company = () => createCompany(api, `Discovery ${++n}`, `discovery${n}.test`);

  it('lets users create a candidate with the default setting only', async () => {
    const c = await company();
    const url = `/api/v1/contracts/${c.contract.id}/candidates`;
    const plain = await api.call('POST', url, { token: c.contractToken, actAs: c.recruiter.id, body: { name: 'Pia Plain', emails: ['pia@mail.example'] } });
    expect(plain.statusCode, plain.body).toBe(201);
    expect(plain.json().emailDiscovery).toBe('anyone');
    const explicitDefault = await api.call('POST', url, { token: c.contractToken, actAs: c.recruiter.id, body: { name: 'Dee Default', emails: [], emailDiscovery: 'anyone' } });
    expect(explicitDefault.statusCode).toBe(201);
    for (const who of [{ token: c.contractToken, actAs: c.recruiter.id }, { token: c.contractToken, actAs: c.admin.id }, { token: c.contractToken }]) {
      const refused = await api.call('POST', url, { ...who, body: { name: 'Nora Narrow', emails: ['nora@mail.example'], emailDiscovery: 'first_degree' } });
      expect([refused.statusCode, refused.json().error.code]).toEqual([403, 'forbidden']);
      expect(refused.json().error.message).not.toMatch(/R-\d/);
    }
    expect((await c.json('GET', `${url}?q=nora`))).toEqual([]);
    const bySystem = await c.json('POST', url, { name: 'Nora Narrow', emails: ['nora@mail.example'], emailDiscovery: 'first_degree' });
    expect(bySystem.emailDiscovery).toBe('first_degree');
  });

  it('refuses users and contract tokens a change (no widening), and audits the host system’s change with old and new value', async () => {
    const c = await company();
    const url = `/api/v1/candidates/${c.candidate.id}`;
    await c.json('PATCH', url, { emailDiscovery: 'nobody' });
    for (const who of [{ token: c.contractToken, actAs: c.recruiter.id }, { token: c.contractToken, actAs: c.admin.id }, { token: c.contractToken }]) {
      const widen = await api.call('PATCH', url, { ...who, body: { emailDiscovery: 'anyone' } });
      expect([widen.statusCode, widen.json().error.code]).toEqual([403, 'forbidden']);
      // Nothing of a refused change is kept, not even the other fields of the request.
      const mixed = await api.call('PATCH', url, { ...who, body: { name: 'Renamed', emailDiscovery: 'second_degree' } });
      expect(mixed.statusCode).toBe(403);
    }
    expect(await c.json('GET', url)).toMatchObject({ name: 'Carla Candidate', emailDiscovery: 'nobody' });
    // Sending the current value, or other fields only, is no change and allowed.
    const same = await api.call('PATCH', url, { token: c.contractToken, actAs: c.recruiter.id, body: { name: 'Carla C.', emailDiscovery: 'nobody' } });
    expect([same.statusCode, same.json().emailDiscovery, same.json().name]).toEqual([200, 'nobody', 'Carla C.']);

    const audit = async () => (await c.json('GET', `/api/v1/contracts/${c.contract.id}/audit?limit=500`)).entries.filter((e: { action: string }) => e.action === 'candidate.discovery_changed');
    expect(await audit()).toHaveLength(1);
    await c.json('PATCH', url, { emailDiscovery: 'second_degree' });
    const changes = await audit();
    expect(changes).toHaveLength(2);
    expect(changes[0]).toMatchObject({ actorKind: 'integration', targetType: 'candidate', targetId: c.candidate.id, details: { from: 'nobody', to: 'second_degree' } });
    expect(changes[1]).toMatchObject({ details: { from: 'anyone', to: 'nobody' } });
  });
  it('takes network degrees from the host system only: no user, admin or not, declares a connection that widens discovery', async () => {
    const c = await company();
    const url = `/api/v1/candidates/${c.candidate.id}/connections`;
    for (const who of [{ token: c.contractToken, actAs: c.recruiter.id }, { token: c.contractToken, actAs: c.admin.id }]) {
      const refused = await api.call('PUT', url, { ...who, body: { userId: c.recruiter.id, degree: 1 } });
      expect([refused.statusCode, refused.json().error.code]).toEqual([403, 'forbidden']);
    }
    expect(await c.json('GET', url)).toEqual([]);
    const byHost = await api.call('PUT', url, { token: c.contractToken, body: { userId: c.recruiter.id, degree: 1 } });
    expect(byHost.statusCode, byHost.body).toBe(200);
  });
});
