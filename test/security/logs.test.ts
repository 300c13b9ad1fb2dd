import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.ts';
import { AdjustableClock } from '../../src/clock.ts';
import { TokenCipher } from '../../src/crypto/token-cipher.ts';
import { createJobs, type Jobs } from '../../src/jobs/index.ts';
import { createLogger } from '../../src/logging.ts';
import { createProviderRegistry } from '../../src/providers/registry.ts';
import { createApiToken } from '../../src/services/credentials.ts';
import type { ServiceContext } from '../../src/services/context.ts';
import type { Database } from '../../src/store/database.ts';
import { registerWorkers } from '../../src/workers.ts';
import { SIM_CLIENT, type TestApi } from '../helpers/app.ts';
import { connectMailbox } from '../helpers/connect.ts';
import { backends } from '../helpers/databases.ts';
import { createCompany } from '../helpers/fixtures.ts';
import { startTestSimulators, type TestSimulators } from '../helpers/simulators.ts';

/** Everything the product's logger writes, as text. */
class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

describe.each(['google', 'microsoft'] as const)('logs carry no secrets or personal data (%s)', (provider) => {
  const output = new Capture();
  let sim: TestSimulators;
  let database: Database;
  let jobs: Jobs;
  let api: TestApi;

  beforeAll(async () => {
    sim = await startTestSimulators();
    database = await backends[0]!.open();
    // The API, the job queue and every worker share one logger at debug, as `serve` runs them.
    const logger = createLogger('debug', output);
    const clock = new AdjustableClock();
    const ctx: ServiceContext = { db: database.db, clock };
    const cipher = new TokenCipher(randomBytes(32));
    const publicUrl = 'http://127.0.0.1:3000';
    const providers = createProviderRegistry(
      { google: { ...SIM_CLIENT, baseUrl: `${sim.url}/google` }, microsoft: { ...SIM_CLIENT, baseUrl: `${sim.url}/microsoft` } },
      () => clock.now(),
    );
    jobs = createJobs({ database, clock, logger });
    await jobs.start({ role: 'web' });
    await registerWorkers(jobs, { ...ctx, providers, cipher, publicUrl }, logger);
    const app = await buildApp({ ctx, providers, cipher, publicUrl, jobs, version: 'test', logger, testMode: { clock, jobs } });
    await app.ready();
    const { token: systemToken } = await createApiToken(ctx, { kind: 'system' });
    api = {
      app, ctx, cipher, providers, publicUrl, clock, systemToken,
      call: (method, url, opts = {}) =>
        app.inject({
          method: method as 'GET',
          url,
          headers: {
            ...(opts.token === null ? {} : { authorization: `Bearer ${opts.token ?? systemToken}` }),
            ...(opts.actAs ? { 'x-act-as-user': opts.actAs } : {}),
            ...(opts.headers ?? {}),
          },
          ...(opts.body !== undefined ? { payload: opts.body as object } : {}),
        }),
      close: () => app.close(),
    };
  });
  afterAll(async () => {
    await api.close();
    await jobs.stop();
    await database.close();
    await sim.close();
  });

  it('a full run at debug — connect, sync, sign in, read mail, ask the decision log about an address — logs none of them', async () => {
    const domain = `logs-${provider}.test`;
    const c = await createCompany(api, 'Logs Co', domain);
    const mailbox = `rita@${domain}`;
    const subject = 'Confidential offer letter draft';
    const body = 'The salary we discussed is 123456';
    await sim.control('POST', '/_sim/tenants', { provider, domain });
    await sim.control('POST', '/_sim/mailboxes', { provider, address: mailbox });
    const recent = new Date(api.clock.now().getTime() - 3 * 86_400_000).toISOString();
    await sim.control('POST', `/_sim/mailboxes/${encodeURIComponent(mailbox)}/messages`, { from: 'Carla <carla@mail.example>', to: mailbox, subject, text: body, date: recent });
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: provider, emailAccess: 'view' });

    const { callbackPath } = await connectMailbox(api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'email', address: mailbox });
    const query = new URL(callbackPath, 'http://x').searchParams;
    const code = query.get('code')!;
    const state = query.get('state')!;
    expect(code.length).toBeGreaterThan(8);
    expect(state.length).toBeGreaterThan(8);
    const drained = await api.app.inject({ method: 'POST', url: '/_test/jobs/drain' });
    expect(drained.json().ran).toBeGreaterThanOrEqual(1);

    const signIn = await api.call('POST', '/api/v1/session', { token: null, body: { email: mailbox, password: 'correct horse battery' } });
    expect(signIn.statusCode, signIn.body).toBe(200);
    const sessionCookie = signIn.cookies.find((k) => k.name !== undefined)!;
    const threads = await api.call('GET', `/api/v1/candidates/${c.candidate.id}/messages`, { token: null, headers: { cookie: `${sessionCookie.name}=${sessionCookie.value}` } });
    expect(threads.statusCode, threads.body).toBe(200);
    expect(threads.body).toContain(subject);
    const decisions = await api.call('GET', `/api/v1/seats/${c.seat.id}/sync/decisions?address=carla@mail.example`, { token: c.contractToken, actAs: c.recruiter.id });
    expect(decisions.statusCode, decisions.body).toBe(200);
    // A request that fails validation still logs no query string.
    await api.call('GET', `/api/v1/seats/${c.seat.id}/sync/decisions?address=carla@mail.example&bogus=1`, { token: c.contractToken, actAs: c.recruiter.id });

    const logged = output.text;
    // The run did log, at debug: requests with their routes, jobs.
    expect(logged).toContain('"route":"/oauth/:provider/callback"');
    expect(logged).toContain('"route":"/api/v1/seats/:id/sync/decisions"');
    expect(logged).toMatch(/"level":20/);
    for (const secret of [code, state, encodeURIComponent(state), c.contractToken, api.systemToken, sessionCookie.value, signIn.json().csrfToken]) {
      expect(logged, 'a credential in the logs').not.toContain(secret);
    }
    for (const personal of ['carla@mail.example', 'carla%40mail.example', mailbox, encodeURIComponent(mailbox), subject, body, 'correct horse battery']) {
      expect(logged, `"${personal}" in the logs`).not.toContain(personal);
    }
    expect(logged).not.toMatch(/[?&](code|state|address)=/);
    expect(logged.toLowerCase()).not.toContain('bearer ');
  });
});
