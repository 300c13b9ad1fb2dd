import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIGN_IN_THROTTLE } from '../../src/services/sign-in-throttle.ts';
import type { Database } from '../../src/store/database.ts';
import { startTestApi, type TestApi } from '../helpers/app.ts';
import { backends } from '../helpers/databases.ts';
import { createCompany } from '../helpers/fixtures.ts';

const PASSWORD = 'correct horse battery';

/** Accounts: throttled sign-in, the password policy and emails unique per contract (SECURITY.md "sign-in form"). */
describe.each(backends)('accounts on $name', (backend) => {
  let database: Database;
  let api: TestApi;
  beforeAll(async () => {
    database = await backend.open();
    api = await startTestApi(database);
  });
  afterAll(async () => {
    await api?.close();
    await database?.close();
  });

  // Each test signs in from its own client address.
  const signIn = (email: string, password: string, address: string) =>
    api.app.inject({ method: 'POST', url: '/api/v1/session', payload: { email, password }, remoteAddress: address });
  const later = (seconds: number) => api.clock.set(new Date(api.clock.now().getTime() + seconds * 1000));
  const userCount = async () => Number((await api.ctx.db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);

  it('throttles an account after five failures with a growing Retry-After, and a success forgives it', async () => {
    await createCompany(api, 'Throttle', 'throttle.test');
    const ip = '198.51.100.1';
    for (let i = 0; i < SIGN_IN_THROTTLE.accountThreshold; i++) {
      const res = await signIn('admin@throttle.test', `wrong password ${i}`, ip);
      expect(res.statusCode, `failure ${i + 1}`).toBe(401);
    }
    // Blocked: even the right password is refused until the block ends, and the password is not checked.
    const blocked = await signIn('admin@throttle.test', PASSWORD, ip);
    expect(blocked.statusCode).toBe(429);
    expect(blocked.json().error.code).toBe('rate_limited');
    expect(blocked.json().error.message).not.toMatch(/R-\d/);
    expect(Number(blocked.headers['retry-after'])).toBe(60);
    // Another client address is blocked as well: the account is what is protected.
    expect((await signIn('admin@throttle.test', PASSWORD, '198.51.100.2')).statusCode).toBe(429);

    // One more failure after the block doubles the next one.
    await later(61);
    expect((await signIn('admin@throttle.test', 'wrong again', ip)).statusCode).toBe(401);
    const longer = await signIn('admin@throttle.test', PASSWORD, ip);
    expect(longer.statusCode).toBe(429);
    expect(Number(longer.headers['retry-after'])).toBe(120);
    await later(60);
    expect(Number((await signIn('admin@throttle.test', PASSWORD, ip)).headers['retry-after'])).toBe(60);

    // After the block the right password works, and the account's count starts again.
    await later(61);
    expect((await signIn('ADMIN@throttle.test', PASSWORD, ip)).statusCode).toBe(200);
    for (let i = 0; i < SIGN_IN_THROTTLE.accountThreshold - 1; i++) expect((await signIn('admin@throttle.test', 'wrong', ip)).statusCode).toBe(401);
    expect((await signIn('admin@throttle.test', PASSWORD, ip)).statusCode).toBe(200);
  });

  it('caps the block and forgets failures after a quiet quarter of an hour', async () => {
    await createCompany(api, 'Capped', 'capped.test');
    const ip = '198.51.100.3';
    let retryAfter = 0;
    for (let round = 0; round < 12; round++) {
      expect((await signIn('rita@capped.test', 'not it at all', ip)).statusCode).toBe(401);
      const res = await signIn('rita@capped.test', 'not it at all', ip);
      if (res.statusCode === 429) {
        retryAfter = Number(res.headers['retry-after']);
        await later(retryAfter + 1);
      }
    }
    expect(retryAfter).toBe(SIGN_IN_THROTTLE.MAX_BLOCK_MS / 1000);
    // Quiet for the window after the block: the count starts over, so four failures do not block.
    await later(SIGN_IN_THROTTLE.WINDOW_MS / 1000 + 1);
    for (let i = 0; i < SIGN_IN_THROTTLE.accountThreshold - 1; i++) expect((await signIn('rita@capped.test', 'nope nope', ip)).statusCode).toBe(401);
    expect((await signIn('rita@capped.test', PASSWORD, ip)).statusCode).toBe(200);
  });

  it('answers an unknown email exactly like a wrong password, throttling included', async () => {
    await createCompany(api, 'Known', 'known.test');
    const known: { status: number; body: unknown }[] = [];
    const unknown: { status: number; body: unknown }[] = [];
    for (let i = 0; i <= SIGN_IN_THROTTLE.accountThreshold; i++) {
      const a = await signIn('admin@known.test', 'guess guess guess', '198.51.100.4');
      const b = await signIn('nobody@known.test', 'guess guess guess', '198.51.100.5');
      known.push({ status: a.statusCode, body: a.json() });
      unknown.push({ status: b.statusCode, body: b.json() });
    }
    expect(unknown).toEqual(known);
    expect(known.at(-1)!.status).toBe(429);
  });

  it('throttles a client address that fails on many accounts, without blocking other addresses', async () => {
    const c = await createCompany(api, 'Spray', 'spray.test');
    const ip = '203.0.113.9';
    for (let i = 0; i < SIGN_IN_THROTTLE.addressThreshold; i++) {
      expect((await signIn(`user${i}@spray.test`, 'password spray', ip)).statusCode, `failure ${i + 1}`).toBe(401);
    }
    const blocked = await signIn(c.admin.email, PASSWORD, ip);
    expect(blocked.statusCode).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    // The address is not forgiven by a success elsewhere; another address signs the same user in.
    expect((await signIn(c.admin.email, PASSWORD, '203.0.113.10')).statusCode).toBe(200);
    expect((await signIn(c.admin.email, PASSWORD, ip)).statusCode).toBe(429);
    // No address is stored in the clear.
    const keys = await api.ctx.db.selectFrom('sign_in_throttles').select('key').execute();
    expect(keys.some((k) => k.key.includes('203.0.113') || k.key.includes('spray.test'))).toBe(false);
  });

  it('keeps emails unique within a contract only, and signs in the user whose password matches', async () => {
    const a = await createCompany(api, 'Alpha', 'alpha-acc.test');
    const b = await createCompany(api, 'Beta', 'beta-acc.test');
    const shared = 'pat@shared-acc.test';
    const inA = await api.call('POST', `/api/v1/contracts/${a.contract.id}/users`, { body: { email: shared, name: 'Pat A', role: 'recruiter', password: 'alpha company passphrase' } });
    expect(inA.statusCode).toBe(201);
    // Another company may use the same address: nothing tells it that the address is taken elsewhere.
    const inB = await api.call('POST', `/api/v1/contracts/${b.contract.id}/users`, { body: { email: shared.toUpperCase(), name: 'Pat B', role: 'admin', password: 'beta company passphrase' } });
    expect(inB.statusCode).toBe(201);
    // The same company may not.
    const again = await api.call('POST', `/api/v1/contracts/${a.contract.id}/users`, { body: { email: 'Pat@Shared-Acc.test', name: 'Pat again', role: 'recruiter' } });
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe('conflict');

    const asA = await signIn(shared, 'alpha company passphrase', '198.51.100.20');
    expect(asA.statusCode).toBe(200);
    expect(asA.json().user).toMatchObject({ id: inA.json().id, contractId: a.contract.id });
    const asB = await signIn(shared, 'beta company passphrase', '198.51.100.20');
    expect(asB.statusCode).toBe(200);
    expect(asB.json().user).toMatchObject({ id: inB.json().id, contractId: b.contract.id });
    expect((await signIn(shared, 'neither company passphrase', '198.51.100.20')).statusCode).toBe(401);
  });

  it('refuses short, common and email-derived passwords with a clear validation error, storing nothing', async () => {
    const c = await createCompany(api, 'Policy', 'policy.test');
    const before = await userCount();
    const refused: [string, RegExp][] = [
      ['elevenchars', /at least 12 characters/],
      ['password1234', /most common/],
      ['Password2024!', /most common/],
      ['P4ssw0rd!!2024', /most common/],
      ['qwertyuiop123', /most common/],
      ['123456789012', /most common/],
      ['aaaaaaaaaaaaaaaa', /too few characters/],
      ['new.hire@policy.test', /email/],
      ['x'.repeat(201), /at most 200|body\.password/],
    ];
    for (const [password, message] of refused) {
      const res = await api.call('POST', `/api/v1/contracts/${c.contract.id}/users`, { body: { email: 'new.hire@policy.test', name: 'New Hire', role: 'recruiter', password } });
      expect(res.statusCode, password).toBe(400);
      expect(res.json().error.code).toBe('validation_failed');
      expect(res.json().error.message, password).toMatch(message);
      expect(res.json().error.message).not.toMatch(/R-\d/);
    }
    expect(await userCount()).toBe(before);
    const ok = await api.call('POST', `/api/v1/contracts/${c.contract.id}/users`, { body: { email: 'new.hire@policy.test', name: 'New Hire', role: 'recruiter', password: 'lantern orbit velvet' } });
    expect(ok.statusCode).toBe(201);
    // Users created without a password (they sign in through the host system) still can.
    const none = await api.call('POST', `/api/v1/contracts/${c.contract.id}/users`, { body: { email: 'sso@policy.test', name: 'SSO User', role: 'recruiter' } });
    expect(none.statusCode).toBe(201);
  });
});
