// A worker process of the chaos test: every worker of the product (sync, push upkeep, token jobs) on the chaos
// world's Postgres database, until it is killed. The product clock is the test process's clock (real time plus
// CLOCK_OFFSET_MS); a line `clock <offsetMs>` on stdin moves it forward as the test process moves its own.
import { createInterface } from 'node:readline';
import pino from 'pino';
import { AdjustableClock } from '../../src/clock.ts';
import { TokenCipher } from '../../src/crypto/token-cipher.ts';
import { createJobs } from '../../src/jobs/index.ts';
import { createMailProviders } from '../../src/providers/mail.ts';
import { createProviderRegistry } from '../../src/providers/registry.ts';
import { openDatabase } from '../../src/store/database.ts';
import { registerWorkers } from '../../src/workers.ts';
import { SIM_CLIENT } from '../helpers/app.ts';

const env = process.env;
const database = await openDatabase({ url: env.DATABASE_URL, poolSize: 4 });
const clock = new AdjustableClock();
const follow = (offsetMs: number) => {
  const target = Date.now() + offsetMs;
  if (target > clock.now().getTime()) clock.set(new Date(target));
};
follow(Number(env.CLOCK_OFFSET_MS));
const now = () => clock.now();
const publicUrl = env.PUBLIC_URL!;
const registry = createProviderRegistry(
  {
    google: { ...SIM_CLIENT, baseUrl: `${env.SIM_URL}/google`, pubsubTopic: env.PUBSUB_TOPIC },
    microsoft: { ...SIM_CLIENT, baseUrl: `${env.SIM_URL}/microsoft` },
    publicUrl,
  },
  now,
);
// Small Graph pages, so that a kill lands between pages of a scan as often as inside one.
const mail = createMailProviders({
  google: { baseUrl: `${env.SIM_URL}/google`, pubsubTopic: env.PUBSUB_TOPIC },
  microsoft: { baseUrl: `${env.SIM_URL}/microsoft`, pageSize: Number(env.PAGE_SIZE), publicUrl },
  now,
});
const providers = { ...registry, mail, push: (provider: 'google' | 'microsoft') => mail.push(provider) };
// A short run lease: a killed run's grant is free again soon after its process died.
const deps = { db: database.db, clock, providers, cipher: TokenCipher.fromBase64(env.TOKEN_KEY!), publicUrl, runLeaseMs: Number(env.LEASE_MS) };
const jobs = createJobs({ database, clock, tickIntervalMs: 250, pollIntervalMs: 100 });
await jobs.start({ role: 'worker' });
// CHAOS_LOG_FILE: the worker's log (CHAOS_LOG_LEVEL, default info) appended there, to see why a run went as it did.
const logger = env.CHAOS_LOG_FILE ? pino({ level: env.CHAOS_LOG_LEVEL ?? 'info', base: { pid: process.pid } }, pino.destination({ dest: env.CHAOS_LOG_FILE, append: true, sync: true })) : pino({ level: 'silent' });
await registerWorkers(jobs, deps, logger);

createInterface({ input: process.stdin }).on('line', (line) => {
  const [command, value] = line.trim().split(/\s+/);
  if (command === 'clock') follow(Number(value));
});
process.stdout.write('ready\n');
