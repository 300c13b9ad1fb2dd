import type { FastifyInstance } from 'fastify';
import { buildApp } from './api/app.ts';
import type { DemoLogins } from './api/routes/session.ts';
import { AdjustableClock, systemClock, type Clock } from './clock.ts';
import { assertTestModeIsSafe, imageProxyAllowList, publicUrl, requireTokenKey, type Config } from './config.ts';
import { TokenCipher } from './crypto/token-cipher.ts';
import { createProviderRegistry } from './providers/registry.ts';
import { createJobs, type Jobs } from './jobs/index.ts';
import { createLogger, type Logger } from './logging.ts';
import type { ServiceContext } from './services/context.ts';
import { openDatabase, type Database } from './store/database.ts';
import { migrateToLatest } from './store/migrate.ts';
import { configureQuotaLimits } from './sync/quota-budget.ts';
import { registerWorkers } from './workers.ts';

export type Role = 'web' | 'worker' | 'all';

export interface Runtime {
  url: string | undefined;
  database: Database;
  jobs: Jobs;
  app: FastifyInstance | undefined;
  clock: Clock;
  logger: Logger;
  close(): Promise<void>;
}

export const VERSION = '0.1.0';

/**
 * Composes one process: database (migrated at start), job queue, and — for the web role — the HTTP API.
 * `serve` and `demo` both start through here, so production and the demo run the same code.
 */
export async function startRuntime(options: { config: Config; role: Role; database?: Database; port?: number; demo?: DemoLogins }): Promise<Runtime> {
  const { config, role } = options;
  assertTestModeIsSafe(config);
  const allowLoopback = imageProxyAllowList(config);
  const key = requireTokenKey(config);
  const cipher = TokenCipher.fromBase64(key.current, key.previous);
  const logger = createLogger(config.LOG_LEVEL);
  const clock: Clock = config.RECRUITER_SYNC_TEST_MODE ? new AdjustableClock() : systemClock;
  const database = options.database ?? (await openDatabase({ url: config.DATABASE_URL, dataDir: config.RECRUITER_SYNC_DATA_DIR }));
  await migrateToLatest(database);
  const jobs = createJobs({ database, clock, logger });
  const ctx: ServiceContext = { db: database.db, clock };
  configureQuotaLimits({ google: config.GMAIL_QUOTA_UNITS_PER_MINUTE, microsoft: config.GRAPH_QUOTA_REQUESTS_PER_10_MINUTES });
  const providers = createProviderRegistry(
    {
      google: {
        clientId: config.GOOGLE_CLIENT_ID,
        clientSecret: config.GOOGLE_CLIENT_SECRET,
        baseUrl: config.GOOGLE_API_BASE_URL,
        pubsubTopic: config.GOOGLE_PUBSUB_TOPIC,
        pubsubAudience: config.GOOGLE_PUBSUB_AUDIENCE,
        pubsubServiceAccount: config.GOOGLE_PUBSUB_SERVICE_ACCOUNT,
      },
      microsoft: { clientId: config.MICROSOFT_CLIENT_ID, clientSecret: config.MICROSOFT_CLIENT_SECRET, baseUrl: config.MICROSOFT_API_BASE_URL },
      // Webhooks are reached at the public URL.
      publicUrl: publicUrl(config, options.port ?? config.PORT),
    },
    () => clock.now(),
  );

  await jobs.start({ role });
  // the legacy cut-off dates are configuration.
  const legacy = {
    firstAuthorizedBefore: new Date(`${config.RECRUITER_SYNC_LEGACY_FIRST_AUTH_BEFORE}T00:00:00Z`),
    windowStart: new Date(`${config.RECRUITER_SYNC_LEGACY_WINDOW_START}T00:00:00Z`),
  };
  await registerWorkers(jobs, { ...ctx, providers, cipher, publicUrl: publicUrl(config, options.port ?? config.PORT) }, logger, { legacy });

  let app: FastifyInstance | undefined;
  let url: string | undefined;
  if (role !== 'worker') {
    const port = options.port ?? config.PORT;
    app = await buildApp({
      ctx,
      publicUrl: publicUrl(config, port),
      version: VERSION,
      logLevel: config.LOG_LEVEL,
      logger,
      trustProxy: config.TRUST_PROXY,
      providers,
      cipher,
      serveWeb: true,
      jobs,
      testMode: clock instanceof AdjustableClock ? { clock, jobs } : undefined,
      demo: options.demo,
      imageProxy: { allowLoopback },
    });
    const address = await app.listen({ port, host: config.HOST });
    url = config.PUBLIC_URL ?? address;
  }
  logger.info({ role, backend: database.backend, url }, 'recruiter-sync started');

  let closing: Promise<void> | undefined;
  return {
    url,
    database,
    jobs,
    app,
    clock,
    logger,
    close: () =>
      (closing ??= (async () => {
        await app?.close();
        await jobs.stop();
        await database.close();
      })()),
  };
}

/** Stops cleanly on SIGINT/SIGTERM: in-flight requests and jobs finish, the data-dir lock is released. */
export function closeOnSignals(close: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void close().then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
