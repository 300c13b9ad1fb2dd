import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/store/database.ts';
import { startTestApi, type TestApi } from '../helpers/app.ts';
import { backends } from '../helpers/databases.ts';

function expectSecurityHeaders(res: Awaited<ReturnType<TestApi['call']>>): void {
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(res.headers['referrer-policy']).toBe('no-referrer');
  expect(res.headers['x-frame-options']).toBe('DENY');
  expect(String(res.headers['content-security-policy'])).toMatch(/frame-ancestors 'none'/);
}

describe('security headers on every answer', () => {
  let database: Database;
  let api: TestApi;
  let dist: string;
  beforeAll(async () => {
    // A stand-in for the built UI, so the page route is served without a build.
    dist = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-web-'));
    fs.writeFileSync(path.join(dist, 'index.html'), '<!doctype html><title>recruiter-sync</title><div id="root"></div>');
    database = await backends[0]!.open();
    // serveWeb as a directory: the app serves that build.
    api = await startTestApi(database, { serveWeb: dist as unknown as boolean });
  });
  afterAll(async () => {
    await api.close();
    await database.close();
    fs.rmSync(dist, { recursive: true, force: true });
  });

  it('an HTML page keeps its own policy (scripts from the product only) and gets the others', async () => {
    const res = await api.app.inject({ method: 'GET', url: '/settings/email' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(String(res.headers['content-security-policy'])).toContain("script-src 'self'");
    expectSecurityHeaders(res);
  });

  it('an API answer, an error and a 404 carry them', async () => {
    const ok = await api.call('GET', '/api/v1/contracts', {});
    expect(ok.statusCode).toBeLessThan(300);
    expectSecurityHeaders(ok);
    expect(String(ok.headers['content-security-policy'])).toContain("default-src 'none'");
    const unauthenticated = await api.call('GET', '/api/v1/contracts', { token: null });
    expect(unauthenticated.statusCode).toBe(401);
    expectSecurityHeaders(unauthenticated);
    const missing = await api.app.inject({ method: 'GET', url: '/api/v1/no-such-thing' });
    expect(missing.statusCode).toBe(404);
    expectSecurityHeaders(missing);
  });

  it('the OAuth callback, whose URL holds the authorization code, is never sent on as a Referer', async () => {
    const res = await api.app.inject({ method: 'GET', url: '/oauth/google/callback?code=secret-code&state=secret-state' });
    expect(res.statusCode).toBeGreaterThanOrEqual(300);
    expectSecurityHeaders(res);
  });
});
