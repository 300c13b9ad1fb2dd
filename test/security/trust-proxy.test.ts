import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/api/app.ts';
import type { Database } from '../../src/store/database.ts';
import { startTestApi, type TestApi } from '../helpers/app.ts';
import { backends } from '../helpers/databases.ts';

/** The client address the app sees for a request from 127.0.0.1 that claims to come from elsewhere. */
async function seenAddress(app: FastifyInstance): Promise<string> {
  const res = await app.inject({ method: 'GET', url: '/healthz', remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': '203.0.113.9' } });
  return res.headers['x-seen-ip'] as string;
}

const exposeIp = (app: FastifyInstance) =>
  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-seen-ip', request.ip);
  });

describe('client addresses behind a proxy', () => {
  let database: Database;
  let api: TestApi;
  beforeAll(async () => {
    database = await backends[0]!.open();
    api = await startTestApi(database, { beforeReady: exposeIp });
  });
  afterAll(async () => {
    await api.close();
    await database.close();
  });

  it('X-Forwarded-For is not believed unless TRUST_PROXY names the proxy (a client cannot pick its own address)', async () => {
    expect(await seenAddress(api.app)).toBe('127.0.0.1');
    const behindProxy = await buildApp({ ctx: api.ctx, providers: api.providers, cipher: api.cipher, publicUrl: api.publicUrl, version: 'test', logLevel: 'silent', trustProxy: '127.0.0.1' });
    exposeIp(behindProxy);
    await behindProxy.ready();
    try {
      expect(await seenAddress(behindProxy)).toBe('203.0.113.9');
    } finally {
      await behindProxy.close();
    }
  });
});
