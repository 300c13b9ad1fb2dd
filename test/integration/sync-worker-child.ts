// A worker process for the crash test: the sync workers on a Postgres database, until it is killed or,
// with EXIT_WHEN_SYNCED, until the grant's historical sync is done.
import pino from 'pino';
import { AdjustableClock } from '../../src/clock.ts';
import { TokenCipher } from '../../src/crypto/token-cipher.ts';
import { createJobs } from '../../src/jobs/index.ts';
import { createMailProviders } from '../../src/providers/mail.ts';
import { createProviderRegistry } from '../../src/providers/registry.ts';
import { openDatabase } from '../../src/store/database.ts';
import { registerSyncWorkers } from '../../src/sync/workers.ts';
import { SIM_CLIENT } from '../helpers/app.ts';

const env = process.env;
const database = await openDatabase({ url: env.DATABASE_URL, poolSize: 4 });
// The product clock of the test process, plus however far it moved while no worker ran.
const clock = new AdjustableClock();
clock.set(new Date(Date.now() + Number(env.CLOCK_OFFSET_MS)));
const now = () => clock.now();
const providers = createProviderRegistry(
  { google: { ...SIM_CLIENT, baseUrl: `${env.SIM_URL}/google` }, microsoft: { ...SIM_CLIENT, baseUrl: `${env.SIM_URL}/microsoft` } },
  now,
);
const deps = {
  db: database.db,
  clock,
  providers,
  cipher: TokenCipher.fromBase64(env.TOKEN_KEY!),
  publicUrl: 'http://127.0.0.1:3000',
  mail: createMailProviders({ google: { baseUrl: `${env.SIM_URL}/google` }, microsoft: { baseUrl: `${env.SIM_URL}/microsoft`, pageSize: Number(env.PAGE_SIZE) }, now }),
  runLeaseMs: Number(env.LEASE_MS),
};
const jobs = createJobs({ database, clock, tickIntervalMs: 250, pollIntervalMs: 100 });
// Registering queues the start-up work (the health probe of every grant), so the queue starts first.
await jobs.start({ role: 'worker' });
await registerSyncWorkers(jobs, deps, pino({ level: 'silent' }));
process.stdout.write('ready\n');

if (env.EXIT_WHEN_SYNCED) {
  for (;;) {
    const state = await database.db.selectFrom('sync_states').select('phase').where('authorization_id', '=', env.EXIT_WHEN_SYNCED).executeTakeFirst();
    if (state?.phase === 'incremental') break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await jobs.stop();
  await database.close();
  process.stdout.write('synced\n');
  process.exit(0);
}
