import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadIntoSimulator } from '../../sim/generator/index.ts';
import { startSimulators } from '../../sim/server.ts';
import type { Config } from '../config.ts';
import { systemClock } from '../clock.ts';
import { DEMO_COMPANY, DEMO_DOMAIN, DEMO_PASSWORD, generateDemoMailboxes, seedDemoCompany } from '../demo/seed.ts';
import { closeOnSignals, startRuntime } from '../runtime.ts';
import { openDatabase } from '../store/database.ts';
import { migrateToLatest } from '../store/migrate.ts';

const SIM_CLIENT = { id: 'recruiter-sync-local', secret: 'local-secret' };
/** The Pub/Sub topic the demo's Gmail watches publish to, unless GOOGLE_PUBSUB_TOPIC names another. */
const DEMO_PUBSUB_TOPIC = 'projects/recruiter-sync-demo/topics/gmail-push';

/**
 * `npm start`: the whole product in one process — API, web UI, workers, and the Google and Microsoft
 * simulators holding each demo recruiter's generated mailbox — on the embedded database in ./data.
 * The company is seeded once; the simulated mailboxes live in memory and are regenerated at every start.
 */
export async function runDemo(config: Config): Promise<number> {
  const dataDir = path.resolve(config.RECRUITER_SYNC_DATA_DIR);
  const database = await openDatabase({ dataDir });
  await migrateToLatest(database);
  const tokenKey = config.TOKEN_ENCRYPTION_KEY ?? demoTokenKey(dataDir);

  const now = systemClock.now();
  const mailboxes = generateDemoMailboxes(now);
  const seeded = await database.db.selectFrom('contracts').select('id').where('name', '=', DEMO_COMPANY).executeTakeFirst();
  if (!seeded) {
    console.error('Seeding the demo company…');
    await seedDemoCompany({ db: database.db, clock: systemClock }, mailboxes);
  }

  const simPort = config.PORT === 0 ? 0 : config.PORT + 1000;
  const sim = await startSimulators({ port: simPort, host: config.HOST });
  await control(sim.url, 'POST', '/_sim/tenants', { provider: 'google', domain: DEMO_DOMAIN });
  await control(sim.url, 'POST', '/_sim/tenants', { provider: 'microsoft', domain: DEMO_DOMAIN });
  let delivered = 0;
  for (const { owner, mailbox } of mailboxes) {
    await control(sim.url, 'POST', '/_sim/mailboxes', { provider: 'google', address: owner.email });
    delivered += (await loadIntoSimulator(sim.state, owner.email, mailbox)).size;
  }

  // The sign-in page lists these too: only the demo tells its visitors how to sign in.
  const logins = await database.db
    .selectFrom('users')
    .innerJoin('contracts', 'contracts.id', 'users.contract_id')
    .select(['users.email', 'users.role', 'users.name'])
    .where('contracts.name', '=', DEMO_COMPANY)
    .orderBy('users.role')
    .orderBy('users.email')
    .execute();

  // The demo log shows warnings and errors only, unless LOG_LEVEL says otherwise.
  const logLevel = process.env.LOG_LEVEL ? config.LOG_LEVEL : 'warn';
  const runtime = await startRuntime({
    config: {
      ...config,
      LOG_LEVEL: logLevel,
      TOKEN_ENCRYPTION_KEY: tokenKey,
      DATABASE_URL: undefined,
      GOOGLE_API_BASE_URL: `${sim.url}/google`,
      MICROSOFT_API_BASE_URL: `${sim.url}/microsoft`,
      GOOGLE_CLIENT_ID: config.GOOGLE_CLIENT_ID ?? SIM_CLIENT.id,
      GOOGLE_CLIENT_SECRET: config.GOOGLE_CLIENT_SECRET ?? SIM_CLIENT.secret,
      MICROSOFT_CLIENT_ID: config.MICROSOFT_CLIENT_ID ?? SIM_CLIENT.id,
      MICROSOFT_CLIENT_SECRET: config.MICROSOFT_CLIENT_SECRET ?? SIM_CLIENT.secret,
      GOOGLE_PUBSUB_TOPIC: config.GOOGLE_PUBSUB_TOPIC ?? DEMO_PUBSUB_TOPIC,
    },
    role: 'all',
    database,
    demo: { password: DEMO_PASSWORD, logins },
  });
  // what an operator configures in Pub/Sub — a push subscription on the watch topic to the product's webhook.
  await control(sim.url, 'POST', '/_sim/google/pubsub-subscriptions', {
    topicName: config.GOOGLE_PUBSUB_TOPIC ?? DEMO_PUBSUB_TOPIC,
    pushEndpoint: `${runtime.url}/webhooks/google/pubsub`,
    ...(config.GOOGLE_PUBSUB_AUDIENCE ? { audience: config.GOOGLE_PUBSUB_AUDIENCE } : {}),
  });
  console.log(
    [
      '',
      `recruiter-sync demo is running at ${runtime.url}`,
      `  API document: ${runtime.url}/openapi.json   health: ${runtime.url}/healthz`,
      `  simulated Google and Microsoft: ${sim.url} (${delivered} messages in ${mailboxes.length} mailboxes)`,
      `  data: ${dataDir} (embedded database)`,
      '',
      `Sign in with any of these (password "${DEMO_PASSWORD}"):`,
      ...logins.map((u) => `  ${u.role.padEnd(9)} ${u.email.padEnd(28)} ${u.name}`),
      '',
      'A recruiter connects a mailbox under "My email & calendar": the simulated consent page signs in the',
      "recruiter's own address (no password). Press Ctrl+C to stop.",
    ].join('\n'),
  );
  await closeOnSignals(async () => {
    await runtime.close();
    await sim.close();
  });
  return 0;
}

async function control(base: string, method: string, pathname: string, body: unknown): Promise<void> {
  const res = await fetch(`${base}${pathname}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok && res.status !== 409) throw new Error(`simulator ${method} ${pathname}: ${res.status} ${await res.text()}`);
}

/** The demo's token-encryption key: generated once into the data directory, readable by its owner only. */
function demoTokenKey(dataDir: string): string {
  const file = path.join(dataDir, 'token-encryption.key');
  if (!fs.existsSync(file)) fs.writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600 });
  return fs.readFileSync(file, 'utf8').trim();
}
