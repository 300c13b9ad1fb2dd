import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/store/database.ts';
import { startTestApi, type TestApi } from '../helpers/app.ts';
import { backends } from '../helpers/databases.ts';
import { createCompany, insertMessage } from '../helpers/fixtures.ts';
import { exportManifest } from '../helpers/zip.ts';

/**
 * admins get no back door to private email — no token, act-as, export, suspension or decision-log view
 * gives an admin what the owner has not shared. Acting as a user is the host system's, and audited.
 */
describe.each(backends)('no back door for admins (R-63) on $name', (backend) => {
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

  interface AuditEntry { action: string; actorKind: string; actorUserId: string | null; actorTokenId: string | null; targetType: string | null; targetId: string | null; details: Record<string, unknown> }

  async function company() {
    const domain = `backdoor${++n}.test`;
    const c = await createCompany(api, `Backdoor ${n}`, domain);
    // A signed-in admin, as in the browser: session cookie plus the CSRF header on changes.
    const signIn = await api.call('POST', '/api/v1/session', { token: null, body: { email: `admin@${domain}`, password: 'correct horse battery' } });
    expect(signIn.statusCode, signIn.body).toBe(200);
    const cookie = signIn.cookies.find((k) => k.name === 'rs_session')!.value;
    const adminSession = { token: null, headers: { cookie: `rs_session=${cookie}`, 'x-csrf-token': signIn.json().csrfToken as string } };
    const audit = async (): Promise<AuditEntry[]> => (await c.json('GET', `/api/v1/contracts/${c.contract.id}/audit?limit=500`)).entries;
    return { ...c, domain, adminSession, audit };
  }

  const systemTokenId = async () =>
    (await api.ctx.db.selectFrom('api_tokens').select('id').where('token_hash', '=', createHash('sha256').update(api.systemToken).digest('base64url')).executeTakeFirstOrThrow()).id;

  it('creates contract tokens for the host system only, recording who asked and why', async () => {
    const c = await company();
    const url = `/api/v1/contracts/${c.contract.id}/tokens`;
    const before = await api.ctx.db.selectFrom('api_tokens').select('id').where('contract_id', '=', c.contract.id).execute();
    for (const who of [c.adminSession, { actAs: c.admin.id }, { token: c.contractToken }, { token: c.contractToken, actAs: c.admin.id }]) {
      const refused = await api.call('POST', url, { ...who, body: { purpose: 'read Rita’s mail' } });
      expect([refused.statusCode, refused.json().error.code]).toEqual([403, 'forbidden']);
      expect(refused.json().error.message).not.toMatch(/R-\d/);
    }
    expect(await api.ctx.db.selectFrom('api_tokens').select('id').where('contract_id', '=', c.contract.id).execute()).toEqual(before);

    const created = await api.call('POST', url, { body: { purpose: 'Nightly candidate sync' } });
    expect(created.statusCode, created.body).toBe(201);
    const { id } = created.json();
    const row = await api.ctx.db.selectFrom('api_tokens').select(['kind', 'contract_id', 'created_by', 'purpose']).where('id', '=', id).executeTakeFirstOrThrow();
    expect(row).toEqual({ kind: 'contract', contract_id: c.contract.id, created_by: await systemTokenId(), purpose: 'Nightly candidate sync' });
    const entry = (await c.audit()).find((e) => e.action === 'integration.token_created');
    expect(entry).toMatchObject({ actorKind: 'integration', actorTokenId: await systemTokenId(), targetType: 'api_token', targetId: id, details: { purpose: 'Nightly candidate sync' } });
    // Without a body it is still created; a purpose must be one printable line of at most 200 characters.
    expect((await api.call('POST', url)).statusCode).toBe(201);
    for (const purpose of ['a'.repeat(201), 'line one\nline two', 'bell\u0007']) {
      const bad = await api.call('POST', url, { body: { purpose } });
      expect([bad.statusCode, bad.json().error.code]).toEqual([400, 'validation_failed']);
    }
  });

  it('audits every use of X-Act-As-User: the token, the user, method and route pattern, and the reason', async () => {
    const c = await company();
    const integration = (await c.json('POST', `/api/v1/contracts/${c.contract.id}/tokens`, { purpose: 'host system' })) as { id: string; token: string };
    const read = await api.call('GET', `/api/v1/seats/${c.seat.id}/mailbox?probe=1`, { token: integration.token, actAs: c.recruiter.id, headers: { 'x-act-as-reason': 'Support ticket 4711' } });
    expect(read.statusCode, read.body).toBe(200);
    // A refused request is a use too: a recruiter may not change settings.
    const refused = await api.call('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { token: integration.token, actAs: c.recruiter.id, body: { emailAccess: 'view' } });
    expect(refused.statusCode).toBe(403);

    const uses = (await c.audit()).filter((e) => e.action === 'integration.acted_as');
    expect(uses).toHaveLength(2);
    expect(uses[1]).toEqual(
      expect.objectContaining({
        actorKind: 'integration',
        actorUserId: null,
        actorTokenId: integration.id,
        targetType: 'user',
        targetId: c.recruiter.id,
        details: { method: 'GET', route: '/api/v1/seats/{id}/mailbox', reason: 'Support ticket 4711' },
      }),
    );
    expect(uses[0]).toMatchObject({ actorTokenId: integration.id, targetId: c.recruiter.id, details: { method: 'PUT', route: '/api/v1/contracts/{id}/settings', reason: null } });
    // The route pattern, not the URL: no ids, no query string.
    expect(JSON.stringify(uses)).not.toContain(c.seat.id);
    expect(JSON.stringify(uses)).not.toContain('probe');

    // A reason that is not one printable line of at most 200 characters is refused, and the request not run.
    for (const reason of ['r'.repeat(201), 'tab\there']) {
      const bad = await api.call('GET', `/api/v1/seats/${c.seat.id}/mailbox`, { token: integration.token, actAs: c.recruiter.id, headers: { 'x-act-as-reason': reason } });
      expect([bad.statusCode, bad.json().error.code]).toEqual([400, 'validation_failed']);
    }
    expect((await c.audit()).filter((e) => e.action === 'integration.acted_as')).toHaveLength(2);
    // Signed-in users act as nobody.
    const viaSession = await api.call('GET', `/api/v1/seats/${c.seat.id}/mailbox`, { ...c.adminSession, headers: { ...c.adminSession.headers, 'x-act-as-user': c.recruiter.id } });
    expect(viaSession.statusCode).toBe(403);
  });

  it('leaves suspension and reactivation to the host system; admins still rename their company', async () => {
    const c = await company();
    const suspend = await api.call('PATCH', `/api/v1/contracts/${c.contract.id}`, { ...c.adminSession, body: { status: 'suspended' } });
    expect([suspend.statusCode, suspend.json().error.code]).toEqual([403, 'forbidden']);
    expect(suspend.json().error.message).not.toMatch(/R-\d/);
    expect((await c.json('GET', `/api/v1/contracts/${c.contract.id}`)).status).toBe('active');
    const renamed = await api.call('PATCH', `/api/v1/contracts/${c.contract.id}`, { ...c.adminSession, body: { name: 'Backdoor Renamed' } });
    expect([renamed.statusCode, renamed.json().name]).toEqual([200, 'Backdoor Renamed']);
  });

  it("exports a seat for its holder only, and the audit names who performed the export", async () => {
    const c = await company();
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: 'google', emailAccess: 'view' });
    await insertMessage(api, { contractId: c.contract.id, seatId: c.seat.id, ownerUserId: c.recruiter.id, candidateId: c.candidate.id });
    const integration = (await c.json('POST', `/api/v1/contracts/${c.contract.id}/tokens`, {})) as { id: string; token: string };
    const url = `/api/v1/seats/${c.seat.id}/export`;
    for (const who of [c.adminSession, { token: integration.token, actAs: c.admin.id }, { token: integration.token }]) {
      expect((await api.call('GET', url, who)).statusCode).toBe(403);
    }
    const byIntegration = await api.call('GET', url, { token: integration.token, actAs: c.recruiter.id });
    expect(byIntegration.statusCode, byIntegration.body).toBe(200);
    expect(exportManifest(byIntegration.rawPayload).messages).toHaveLength(1);

    const signIn = await api.call('POST', '/api/v1/session', { token: null, body: { email: `rita@${c.domain}`, password: 'correct horse battery' } });
    const cookie = signIn.cookies.find((k) => k.name === 'rs_session')!.value;
    expect((await api.call('GET', url, { token: null, headers: { cookie: `rs_session=${cookie}` } })).statusCode).toBe(200);

    const exports = (await c.audit()).filter((e) => e.action === 'seat.exported');
    expect(exports).toHaveLength(2);
    expect(exports[1]).toMatchObject({ actorKind: 'user', actorUserId: c.recruiter.id, actorTokenId: integration.id, targetId: c.seat.id, details: { messages: 1, via: 'integration', tokenId: integration.id } });
    expect(exports[0]).toMatchObject({ actorKind: 'user', actorUserId: c.recruiter.id, actorTokenId: null, details: { messages: 1, via: 'session' } });
  });

  it("shows admins decision-log entries of candidate mail only, never the counterparts and dates of other mail", async () => {
    const c = await company();
    const decided = new Date(api.clock.now().getTime() + 60_000);
    const row = (providerMessageId: string, counterpart: string, rule: string) => ({
      contract_id: c.contract.id, seat_id: c.seat.id, provider_message_id: providerMessageId, provider_thread_id: null, counterpart, decided_at: decided, ingested: false, rule,
      detail: JSON.stringify({ summary: 'x', messageDate: '2026-01-02T03:04:05.000Z' }),
    });
    await api.ctx.db.insertInto('ingestion_decisions').values([row('m-candidate', 'carla@mail.example', 'R-38'), row('m-friend', 'old.friend@mail.example', 'R-33')]).execute();
    const url = (query = '') => `/api/v1/seats/${c.seat.id}/sync/decisions${query}`;
    const ids = async (who: object, query = '') => {
      const res = await api.call('GET', url(query), who);
      expect(res.statusCode, res.body).toBe(200);
      return (res.json() as Array<{ providerMessageId: string | null }>).map((d) => d.providerMessageId);
    };
    expect(await ids({ token: c.contractToken, actAs: c.recruiter.id })).toEqual(['m-friend', 'm-candidate']);
    for (const who of [c.adminSession, { token: c.contractToken, actAs: c.admin.id }, { token: c.contractToken }]) {
      expect(await ids(who)).toEqual(['m-candidate']);
      expect(await ids(who, '?providerMessageId=m-friend')).toEqual([]);
      const byAddress = await api.call('GET', url('?address=old.friend@mail.example'), who);
      expect(JSON.stringify(byAddress.json())).not.toContain('2026-01-02');
      expect(JSON.stringify(byAddress.json())).not.toContain('m-friend');
    }
  });
});
