import net from 'node:net';
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

/** The Pub/Sub topic Gmail watches publish to when a test product has push on. */
export const TEST_PUBSUB_TOPIC = 'projects/recruiter-sync-test/topics/gmail-push';

/**
 * `push`: the API also listens on a local port (its public URL), so that the simulators' Pub/Sub pushes and Graph
 * notifications reach its webhooks; a Pub/Sub push subscription on `TEST_PUBSUB_TOPIC` points there.
 */
export async function startTestProduct(options: { jobs?: boolean; push?: boolean } = {}): Promise<TestProduct> {
  const sim = await startTestSimulators();
  const database = await backends[0]!.open();
  const ref: { jobs?: Jobs } = {};
  const port = options.push ? await freePort() : undefined;
  const api = await startTestApi(database, {
    simulatorUrl: sim.url,
    ...(options.jobs ? { drain: () => ref.jobs!.drain(), jobs: { send: (...args) => ref.jobs!.send(...args) } } : {}),
    ...(port ? { publicUrl: `http://127.0.0.1:${port}`, push: { pubsubTopic: TEST_PUBSUB_TOPIC } } : {}),
  });
  if (port) {
    await api.app.listen({ port, host: '127.0.0.1' });
    await sim.control('POST', '/_sim/google/pubsub-subscriptions', { topicName: TEST_PUBSUB_TOPIC, pushEndpoint: `${api.publicUrl}/webhooks/google/pubsub` });
  }
  if (options.jobs) ref.jobs = await startTestJobs(database, api);
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

/**
 * The job queue in the web role with every worker registered, on the product's clock: nothing runs until
 * `drain()` (or `POST /_test/jobs/drain`), so tests step syncs deterministically.
 */
export async function startTestJobs(database: Database, api: TestApi): Promise<Jobs> {
  const jobs = createJobs({ database, clock: api.clock });
  await jobs.start({ role: 'web' });
  await registerWorkers(jobs, { ...api.ctx, providers: api.providers, cipher: api.cipher, publicUrl: api.publicUrl }, pino({ level: 'silent' }));
  return jobs;
}

/** A TCP port free on the loopback interface right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
