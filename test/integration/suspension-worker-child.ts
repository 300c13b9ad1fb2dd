// A worker process for the suspension crash test: only the `contract.suspend` worker, on a Postgres database,
// deleting BATCH_SIZE rows per batch and pausing PAUSE_MS after each one, so the test can kill it mid-deletion.
import { AdjustableClock } from '../../src/clock.ts';
import { TokenCipher } from '../../src/crypto/token-cipher.ts';
import { createJobs } from '../../src/jobs/index.ts';
import { createProviderRegistry } from '../../src/providers/registry.ts';
import { registerSuspensionWorker } from '../../src/services/suspension.ts';
import { openDatabase } from '../../src/store/database.ts';
import { SIM_CLIENT } from '../helpers/app.ts';

const env = process.env;
const database = await openDatabase({ url: env.DATABASE_URL, poolSize: 4 });
const clock = new AdjustableClock();
clock.set(new Date(Date.now() + Number(env.CLOCK_OFFSET_MS ?? 0)));
// No provider is reachable: the fixture's tokens are not real ciphertext, so revoking them fails before any call.
const providers = createProviderRegistry(
  { google: { ...SIM_CLIENT, baseUrl: 'http://127.0.0.1:9/google' }, microsoft: { ...SIM_CLIENT, baseUrl: 'http://127.0.0.1:9/microsoft' } },
  () => clock.now(),
);
const deps = { db: database.db, clock, providers, cipher: TokenCipher.fromBase64(env.TOKEN_KEY!), publicUrl: 'http://127.0.0.1:3000' };
const jobs = createJobs({ database, clock, tickIntervalMs: 250, pollIntervalMs: 100 });
await jobs.start({ role: 'worker' });
const pauseMs = Number(env.PAUSE_MS ?? 0);
await registerSuspensionWorker(jobs, deps, {
  batchSize: Number(env.BATCH_SIZE ?? 500),
  afterBatch: async ({ table, deleted }) => {
    process.stdout.write(`batch ${table} ${deleted}\n`);
    if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
  },
});
process.stdout.write('ready\n');
