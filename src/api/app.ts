import cookie from '@fastify/cookie';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { AdjustableClock, Clock } from '../clock.ts';
import type { ServiceContext } from '../services/context.ts';
import { registerAuth } from './auth.ts';
import { errorHandler } from './errors.ts';
import { createMetrics } from './metrics.ts';
import { buildOpenApi } from './openapi.ts';
import { routeRegistry } from './route.ts';
import { sessionRoutes } from './routes/session.ts';
import { settingsRoutes } from './routes/settings.ts';
import { systemRoutes } from './routes/system.ts';
import { tenancyRoutes } from './routes/tenancy.ts';
import { testModeRoutes, type JobDrainer } from './routes/test-mode.ts';
import { loggerOptions, type Logger } from '../logging.ts';
import type { TokenCipher } from '../crypto/token-cipher.ts';
import type { ProviderRegistry } from '../providers/registry.ts';
import type { Jobs } from '../jobs/index.ts';
import { mailboxRoutes } from './routes/mailbox.ts';
import { webRoutes } from './routes/web.ts';
import { attachmentRoutes, messageImageRoutes, messageRoutes } from './routes/messages.ts';
import type { ImageProxyOptions } from '../services/image-proxy.ts';
import { decisionRoutes } from './routes/decisions.ts';
import { sendingRoutes } from './routes/sending.ts';
import { interviewRoutes } from './routes/interviews.ts';
import { exportRoutes } from './routes/export.ts';
import type { DemoLogins } from './routes/session.ts';
import { webhookRoutes } from './routes/webhooks.ts';

export interface AppDependencies {
  ctx: ServiceContext;
  publicUrl: string;
  version: string;
  logLevel?: string;
  /** The process's logger (the runtime's); without it the app logs to standard output at `logLevel`. */
  logger?: Logger | undefined;
  /** Fastify `trustProxy` (TRUST_PROXY): off unless the deployment names its proxies. */
  trustProxy?: boolean | number | string | undefined;
  providers: ProviderRegistry;
  cipher: TokenCipher;
  /** The job queue: the OAuth callback starts a seat's sync through it (R-20). */
  jobs?: Pick<Jobs, 'send'> | undefined;
  /** Serve the built web UI (off in API-only tests); a string names the build's directory (default dist/web). */
  serveWeb?: boolean | string;
  /** Test mode: the adjustable clock and the job drainer behind `/_test/*`. */
  testMode?: { clock: AdjustableClock; jobs: JobDrainer } | undefined;
  /** The local demo's seeded sign-ins, shown on its sign-in page; never set in a deployment. */
  demo?: DemoLogins | undefined;
  /** "Show images": limits of the message image proxy (its loopback allow-list exists for tests only). */
  imageProxy?: ImageProxyOptions | undefined;
}

export async function buildApp(deps: AppDependencies): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger as FastifyBaseLogger } : { logger: loggerOptions(deps.logLevel ?? 'info') }),
    bodyLimit: 2 * 1024 * 1024,
    // Believing X-Forwarded-For from anyone would let a client pick its own address (sign-in throttling).
    trustProxy: typeof deps.trustProxy === 'number' ? hopsTrusted(deps.trustProxy) : (deps.trustProxy ?? false),
    // A URL the router cannot decode (invalid percent-encoding, an over-long parameter) answers in the API's error shape too.
    frameworkErrors: (error, request, reply) => errorHandler(error, request, reply),
  });
  const metrics = createMetrics();
  await app.register(cookie);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ error: { code: 'not_found', message: `No route ${request.method} ${request.url.split('?')[0]}` } });
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    setSecurityHeaders(reply);
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.httpDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });
  registerAuth(app, deps.ctx);

  const secureCookies = deps.publicUrl.startsWith('https://');
  sessionRoutes(app, deps.ctx, secureCookies, deps.demo);
  settingsRoutes(app, deps.ctx);
  messageRoutes(app, deps.ctx);
  messageImageRoutes(app, deps.ctx, deps.imageProxy ?? {});
  decisionRoutes(app, deps.ctx);
  const mailboxDeps = { ...deps.ctx, providers: deps.providers, cipher: deps.cipher, publicUrl: deps.publicUrl };
  attachmentRoutes(app, mailboxDeps);
  tenancyRoutes(app, mailboxDeps, deps.jobs);
  mailboxRoutes(app, mailboxDeps, deps.jobs);
  sendingRoutes(app, mailboxDeps, deps.jobs);
  interviewRoutes(app, { ...mailboxDeps, calendars: (provider) => deps.providers.calendar(provider) });
  exportRoutes(app, deps.ctx);
  webhookRoutes(app, { ...deps.ctx, providers: deps.providers }, deps.jobs);
  if (deps.testMode) testModeRoutes(app, deps.testMode.clock, deps.testMode.jobs);
  if (deps.serveWeb) await webRoutes(app, ...(typeof deps.serveWeb === 'string' ? [deps.serveWeb] : []));

  let openapi: Record<string, unknown> | undefined;
  systemRoutes(app, deps.ctx, metrics, () => {
    // Only routes this instance serves (the registry is module-wide; test mode may be off here).
    openapi ??= buildOpenApi(
      routeRegistry.filter((r) => app.hasRoute({ method: r.method, url: r.url.replace(/\{(\w+)\}/g, ':$1') })),
      { version: deps.version, serverUrl: deps.publicUrl },
    );
    return openapi;
  });
  return app;
}

/** TRUST_PROXY as a hop count: the nearest `hops` proxies are believed. */
const hopsTrusted = (hops: number) => (_address: string, hop: number) => hop < hops;

/** A policy for answers that are not pages (JSON, redirects, files): they load nothing and are framed nowhere. */
const DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * Every answer, whatever route (or none) produced it: no MIME sniffing, no Referer leaving the product (the OAuth
 * callback URL holds an authorization code), no framing. A route that sets its own CSP (the web UI) keeps it.
 */
function setSecurityHeaders(reply: FastifyReply): void {
  if (!reply.hasHeader('content-security-policy')) void reply.header('content-security-policy', DEFAULT_CSP);
  const csp = String(reply.getHeader('content-security-policy'));
  if (!reply.hasHeader('x-frame-options')) void reply.header('x-frame-options', /frame-ancestors\s+'self'\s*(;|$)/.test(csp) ? 'SAMEORIGIN' : 'DENY');
  void reply.header('x-content-type-options', 'nosniff');
  if (!reply.hasHeader('referrer-policy')) void reply.header('referrer-policy', 'no-referrer');
}

export type { Clock };
