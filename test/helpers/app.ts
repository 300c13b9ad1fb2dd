import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp, type AppDependencies } from '../../src/api/app.ts';
import { AdjustableClock } from '../../src/clock.ts';
import type { Database } from '../../src/store/database.ts';
import type { ServiceContext } from '../../src/services/context.ts';
import type { Jobs } from '../../src/jobs/index.ts';
import { createApiToken } from '../../src/services/credentials.ts';
import { randomBytes } from 'node:crypto';
import { TokenCipher } from '../../src/crypto/token-cipher.ts';
import { createProviderRegistry, type ProviderRegistry } from '../../src/providers/registry.ts';

/** An API server on a test database, with a system token and small request helpers (Fastify `inject`). */
export interface TestApi {
  app: FastifyInstance;
  ctx: ServiceContext;
  cipher: TokenCipher;
  providers: ProviderRegistry;
  publicUrl: string;
  clock: AdjustableClock;
  systemToken: string;
  call(method: string, url: string, options?: { token?: string | null; actAs?: string; body?: unknown; headers?: Record<string, string> }): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export const SIM_CLIENT = { clientId: 'recruiter-sync-local', clientSecret: 'local-secret' };

export async function startTestApi(
  database: Database,
  options: {
    drain?: () => Promise<number>;
    jobs?: Pick<Jobs, 'send'>;
    simulatorUrl?: string;
    publicUrl?: string;
    cipher?: TokenCipher;
    serveWeb?: boolean;
    /** Push notifications on: providers reach the webhooks at `publicUrl`; Gmail watches publish to `pubsubTopic`. */
    push?: { pubsubTopic?: string; pubsubAudience?: string };
    /** The local demo's sign-ins, as `npm start` passes them. */
    demo?: AppDependencies['demo'];
    /** Hooks to add before the app is ready (benchmarks time requests with them). */
    beforeReady?: (app: FastifyInstance) => void;
    /** The message image proxy's options (tests name their loopback image server here). */
    imageProxy?: AppDependencies['imageProxy'];
  } = {},
): Promise<TestApi> {
  const clock = new AdjustableClock();
  const ctx: ServiceContext = { db: database.db, clock };
  const cipher = options.cipher ?? new TokenCipher(randomBytes(32));
  const sim = options.simulatorUrl;
  const publicUrl = options.publicUrl ?? 'http://127.0.0.1:3000';
  const providers = createProviderRegistry(
    {
      google: { ...SIM_CLIENT, baseUrl: sim ? `${sim}/google` : 'http://127.0.0.1:9/google', pubsubTopic: options.push?.pubsubTopic, pubsubAudience: options.push?.pubsubAudience },
      microsoft: { ...SIM_CLIENT, baseUrl: sim ? `${sim}/microsoft` : 'http://127.0.0.1:9/microsoft' },
      ...(options.push ? { publicUrl } : {}),
    },
    () => clock.now(),
  );
  const app = await buildApp({
    ctx,
    providers,
    cipher,
    publicUrl,
    jobs: options.jobs,
    version: 'test',
    logLevel: 'silent',
    serveWeb: options.serveWeb ?? false,
    testMode: { clock, jobs: { drain: options.drain ?? (async () => 0) } },
    demo: options.demo,
    imageProxy: options.imageProxy,
  });
  options.beforeReady?.(app);
  await app.ready();
  const { token: systemToken } = await createApiToken(ctx, { kind: 'system' });
  return {
    app,
    ctx,
    cipher,
    providers,
    publicUrl,
    clock,
    systemToken,
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
    close: async () => {
      await app.close();
    },
  };
}
