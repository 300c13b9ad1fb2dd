import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenCipher } from '../../src/crypto/token-cipher.ts';
import { openDatabase, type Database } from '../../src/store/database.ts';
import { migrateToLatest } from '../../src/store/migrate.ts';
import { startTestApi, type TestApi } from '../helpers/app.ts';
import { connectMailbox } from '../helpers/connect.ts';
import { createScratchDatabase, serverUrl } from '../helpers/databases.ts';
import { createCompany } from '../helpers/fixtures.ts';
import { startTestSimulators, type TestSimulators } from '../helpers/simulators.ts';

const run = promisify(execFile);

describe.skipIf(!serverUrl).each(['google', 'microsoft'] as const)('one refresh at a time across processes (R-11) with %s on postgres', (provider) => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let database: Database;
  let api: TestApi;
  let sim: TestSimulators;
  const key = randomBytes(32);

  beforeAll(async () => {
    sim = await startTestSimulators();
    scratch = await createScratchDatabase();
    database = await openDatabase({ url: scratch.url });
    await migrateToLatest(database);
    api = await startTestApi(database, { simulatorUrl: sim.url, cipher: new TokenCipher(key) });
  });
  afterAll(async () => {
    await api.close();
    await database.close();
    await scratch.drop();
    await sim.close();
  });

  it('two worker processes needing a fresh token at once cause a single refresh and get the same token', async () => {
    const c = await createCompany(api, 'Refresh Co', `refresh-${provider}.test`);
    await sim.control('POST', '/_sim/tenants', { provider, domain: `refresh-${provider}.test` });
    await sim.control('POST', '/_sim/mailboxes', { provider, address: `rita@refresh-${provider}.test` });
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: provider, emailAccess: 'view' });
    await connectMailbox(api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'email', address: `rita@refresh-${provider}.test` });
    const grant = await api.ctx.db.selectFrom('mailbox_authorizations').select(['id', 'refresh_token_ciphertext']).where('seat_id', '=', c.seat.id).executeTakeFirstOrThrow();
    const refreshBefore = api.cipher.open(grant.refresh_token_ciphertext!, `${grant.id}:refresh`);

    const env = {
      ...process.env,
      DATABASE_URL: scratch.url,
      SIM_URL: sim.url,
      TOKEN_KEY: key.toString('base64'),
      AUTHORIZATION_ID: grant.id,
      CLOCK_AT: String(api.clock.now().getTime() + 58 * 60_000),
      START_AT: String(Date.now() + 2500),
    };
    const child = path.resolve('test/integration/refresh-child.ts');
    const [a, b] = await Promise.all([
      run(process.execPath, ['--import', 'tsx', child], { env, timeout: 60_000 }),
      run(process.execPath, ['--import', 'tsx', child], { env, timeout: 60_000 }),
    ]);
    const tokenA = JSON.parse(a.stdout).token;
    const tokenB = JSON.parse(b.stdout).token;
    expect(tokenA).toBe(tokenB);
    const after = await api.ctx.db.selectFrom('mailbox_authorizations').selectAll().where('id', '=', grant.id).executeTakeFirstOrThrow();
    expect(api.cipher.open(after.access_token_ciphertext!, `${grant.id}:access`)).toBe(tokenA);
    // With rolling refresh tokens a second refresh would have replaced the stored one again; the stored one works.
    const refreshAfter = api.cipher.open(after.refresh_token_ciphertext!, `${grant.id}:refresh`);
    if (provider === 'microsoft') expect(refreshAfter).not.toBe(refreshBefore);
    expect(after.refresh_lease_id).toBeNull();
  });
});
