import pino from 'pino';
import { createJobs, type Jobs } from '../../src/jobs/index.ts';
import type { Database } from '../../src/store/database.ts';
import { registerWorkers } from '../../src/workers.ts';
import { startTestApi, type TestApi } from './app.ts';
import { backends } from './databases.ts';
import { startTestSimulators, type TestSimulators } from './simulators.ts';

/**
 * The product against the simulators on an embedded database, as integration tests use it: the API (test
 * mode), and with `jobs` the job queue with every worker registered, so the OAuth callback starts syncs and
 * `POST /_test/jobs/drain` runs them.
 */
export interface TestProduct {
  database: Database;
  api: TestApi;
  sim: TestSimulators;
  jobs: Jobs | undefined;
  close(): Promise<void>;
}

export async function startTestProduct(options: { jobs?: boolean } = {}): Promise<TestProduct> {
  const sim = await startTestSimulators();
  const database = await backends[0]!.open();
  const ref: { jobs?: Jobs } = {};
  const api = await startTestApi(database, {
    simulatorUrl: sim.url,
    ...(options.jobs ? { drain: () => ref.jobs!.drain(), jobs: { send: (...args) => ref.jobs!.send(...args) } } : {}),
  });
  if (options.jobs) {
    ref.jobs = createJobs({ database, clock: api.clock });
    await ref.jobs.start({ role: 'web' });
    await registerWorkers(ref.jobs, { ...api.ctx, providers: api.providers, cipher: api.cipher, publicUrl: api.publicUrl }, pino({ level: 'silent' }));
  }
  return {
    database,
    api,
    sim,
    jobs: ref.jobs,
    close: async () => {
      await api.close();
      await ref.jobs?.stop();
      await database.close();
      await sim.close();
    },
  };
}
