import { z } from 'zod';

/**
 * Configuration from environment variables, validated at start with one clear message per wrong value.
 * `recruiter-sync serve --help` prints `CONFIG_VARIABLES`.
 */

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date like 2025-02-05');
const flag = z.enum(['0', '1', 'true', 'false']).transform((v) => v === '1' || v === 'true');
const httpUrl = z.url({ protocol: /^https?$/, message: 'expected an http(s) URL' });

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default('127.0.0.1'),
  PUBLIC_URL: httpUrl.optional(),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'expected a postgres:// connection string')
    .optional(),
  RECRUITER_SYNC_DATA_DIR: z.string().default('./data'),
  TOKEN_ENCRYPTION_KEY: z
    .string()
    .refine((v) => Buffer.from(v, 'base64').length === 32, 'expected 32 bytes, base64-encoded')
    .optional(),
  TOKEN_ENCRYPTION_PREVIOUS_KEYS: z
    .string()
    .refine((v) => v.split(',').every((k) => Buffer.from(k.trim(), 'base64').length === 32), 'expected comma-separated 32-byte base64 keys')
    .optional(),
  GOOGLE_CLIENT_ID: z.string().optional(),
  GOOGLE_CLIENT_SECRET: z.string().optional(),
  GOOGLE_PUBSUB_TOPIC: z.string().regex(/^projects\/[^/\s]+\/topics\/[^/\s]+$/, 'expected projects/PROJECT/topics/TOPIC').optional(),
  GOOGLE_PUBSUB_AUDIENCE: z.string().max(2000).optional(),
  GOOGLE_PUBSUB_SERVICE_ACCOUNT: z.email('expected the service account email of the push subscription').optional(),
  MICROSOFT_CLIENT_ID: z.string().optional(),
  MICROSOFT_CLIENT_SECRET: z.string().optional(),
  GOOGLE_API_BASE_URL: httpUrl.optional(),
  MICROSOFT_API_BASE_URL: httpUrl.optional(),
  RECRUITER_SYNC_TEST_MODE: flag.default(false),
  // Tests only: loopback IP:port pairs the message image proxy may fetch from (refused outside test mode).
  RECRUITER_SYNC_TEST_IMAGE_HOSTS: z
    .string()
    .transform((v) => v.split(',').map((h) => h.trim()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\]):\d{1,5}$/, 'expected loopback IP:port pairs, e.g. 127.0.0.1:8123')))
    .optional(),
  // the per-mailbox limits the quota budget keeps under (less a 10 % margin); the published values by default.
  GMAIL_QUOTA_UNITS_PER_MINUTE: z.coerce.number().int().min(100).default(15_000),
  GRAPH_QUOTA_REQUESTS_PER_10_MINUTES: z.coerce.number().int().min(10).default(10_000),
  RECRUITER_SYNC_LEGACY_FIRST_AUTH_BEFORE: isoDate.default('2025-02-05'),
  RECRUITER_SYNC_LEGACY_WINDOW_START: isoDate.default('2024-02-06'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // Off by default: X-Forwarded-For is believed only from proxies the operator names (client addresses feed
  // sign-in throttling, so a spoofable header must not decide them).
  TRUST_PROXY: z
    .string()
    .regex(/^(true|false|\d{1,2}|[0-9a-fA-F.:/]+(\s*,\s*[0-9a-fA-F.:/]+)*)$/, 'expected true, a hop count, or comma-separated proxy addresses/CIDRs')
    .transform((v): boolean | number | string => (v === 'true' ? true : v === 'false' ? false : /^\d{1,2}$/.test(v) ? Number(v) : v))
    .optional(),
});

export type Config = z.infer<typeof schema>;

export const CONFIG_VARIABLES: Array<[name: string, meaning: string]> = [
  ['PORT', 'HTTP port (default 3000)'],
  ['HOST', 'interface to listen on (default 127.0.0.1)'],
  ['PUBLIC_URL', 'the URL users and providers reach the server at (OAuth redirects, webhooks); default http://HOST:PORT'],
  ['DATABASE_URL', 'Postgres server (postgres://…); unset → embedded database in RECRUITER_SYNC_DATA_DIR'],
  ['RECRUITER_SYNC_DATA_DIR', 'data directory of the embedded database (default ./data)'],
  ['TOKEN_ENCRYPTION_KEY', 'base64 32-byte key for OAuth tokens at rest (the demo generates one)'],
  ['TOKEN_ENCRYPTION_PREVIOUS_KEYS', 'during a key rotation: the former keys, comma-separated (tokens they sealed still open)'],
  ['GOOGLE_CLIENT_ID / GOOGLE_CLIENT_SECRET', 'Google OAuth client'],
  ['GOOGLE_PUBSUB_TOPIC', 'Gmail push: the Pub/Sub topic watches publish to (projects/P/topics/T); unset → Gmail is polled only'],
  ['GOOGLE_PUBSUB_AUDIENCE', "audience of the push subscription's OIDC tokens (default PUBLIC_URL/webhooks/google/pubsub)"],
  ['GOOGLE_PUBSUB_SERVICE_ACCOUNT', 'only push tokens of this service account are accepted; required with GOOGLE_PUBSUB_TOPIC in production (https PUBLIC_URL, real providers)'],
  ['MICROSOFT_CLIENT_ID / MICROSOFT_CLIENT_SECRET', 'Microsoft identity platform app'],
  ['GOOGLE_API_BASE_URL / MICROSOFT_API_BASE_URL', 'unset → the real services; set → every provider host is replaced by this prefix (the simulators)'],
  ['RECRUITER_SYNC_TEST_MODE', '1 enables the /_test endpoints (refused together with real provider URLs)'],
  ['RECRUITER_SYNC_TEST_IMAGE_HOSTS', "tests only: loopback IP:port pairs (comma-separated) whose images \"Show images\" may fetch; refused unless test mode is on"],
  ['GMAIL_QUOTA_UNITS_PER_MINUTE', "Gmail quota units per user per minute the product stays under, less 10 % (default 15,000, Google's published limit)"],
  ['GRAPH_QUOTA_REQUESTS_PER_10_MINUTES', 'Graph requests per mailbox per 10 minutes the product stays under, less 10 % (default 10,000, the published limit)'],
  ['RECRUITER_SYNC_LEGACY_FIRST_AUTH_BEFORE', 'R-35: seats first authorized before this date (default 2025-02-05) …'],
  ['RECRUITER_SYNC_LEGACY_WINDOW_START', '… get this historical window start (default 2024-02-06)'],
  ['LOG_LEVEL', 'fatal|error|warn|info|debug|trace|silent (default info)'],
  ['TRUST_PROXY', 'unset → X-Forwarded-* ignored; true, a hop count, or the proxy addresses/CIDRs (comma-separated) to believe'],
];

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  assertPushIsAuthenticated(parsed.data);
  return parsed.data;
}

/**
 * In production, Gmail push is accepted only from the push subscription's own service account: any Google-signed
 * OIDC token with our audience would otherwise pass, so a topic without the account is refused at start.
 */
export function assertPushIsAuthenticated(config: Config): void {
  // Production: served over https and talking to the real Google (no simulator base URL).
  const production = Boolean(config.PUBLIC_URL?.startsWith('https://')) && !config.GOOGLE_API_BASE_URL;
  if (config.GOOGLE_PUBSUB_TOPIC && !config.GOOGLE_PUBSUB_SERVICE_ACCOUNT && production) {
    throw new ConfigError(
      'GOOGLE_PUBSUB_SERVICE_ACCOUNT is required when GOOGLE_PUBSUB_TOPIC is set: name the service account of the ' +
        'Pub/Sub push subscription, so that only its pushes are accepted.',
    );
  }
}

export function publicUrl(config: Config, port: number): string {
  return (config.PUBLIC_URL ?? `http://${config.HOST}:${port}`).replace(/\/$/, '');
}

/** Test mode is never allowed against the real providers (API.md "Test mode"). */
export function assertTestModeIsSafe(config: Config): void {
  if (config.RECRUITER_SYNC_TEST_MODE && (!config.GOOGLE_API_BASE_URL || !config.MICROSOFT_API_BASE_URL)) {
    throw new ConfigError(
      'RECRUITER_SYNC_TEST_MODE=1 is refused with real provider URLs: set GOOGLE_API_BASE_URL and ' +
        'MICROSOFT_API_BASE_URL to the simulators, or turn test mode off.',
    );
  }
}

/**
 * The image proxy never fetches from loopback, private or link-local addresses. Browser tests serve their images
 * from a loopback port: only they may name it (exact IP:port pairs), only in test mode, which is itself refused
 * against the real providers — so a deployment cannot open the proxy onto its own host by configuration.
 */
export function imageProxyAllowList(config: Config): string[] {
  const hosts = config.RECRUITER_SYNC_TEST_IMAGE_HOSTS ?? [];
  if (hosts.length > 0 && !config.RECRUITER_SYNC_TEST_MODE) {
    throw new ConfigError('RECRUITER_SYNC_TEST_IMAGE_HOSTS is for tests only: it is refused unless RECRUITER_SYNC_TEST_MODE=1 (with the simulators).');
  }
  if (hosts.length > 0) assertTestModeIsSafe(config);
  return hosts;
}

export function requireTokenKey(config: Config): { current: string; previous: string[] } {
  if (!config.TOKEN_ENCRYPTION_KEY) {
    throw new ConfigError('TOKEN_ENCRYPTION_KEY is required: a base64 32-byte key, e.g. `openssl rand -base64 32`.');
  }
  return { current: config.TOKEN_ENCRYPTION_KEY, previous: (config.TOKEN_ENCRYPTION_PREVIOUS_KEYS ?? '').split(',').map((k) => k.trim()).filter(Boolean) };
}
