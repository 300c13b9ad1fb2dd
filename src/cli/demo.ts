import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Config } from '../config.ts';
import { systemClock } from '../clock.ts';
import { DEMO_PASSWORD, seedDemoCompany } from '../demo/seed.ts';
import { closeOnSignals, startRuntime } from '../runtime.ts';
import { openDatabase } from '../store/database.ts';
import { migrateToLatest } from '../store/migrate.ts';

/**
 * `npm start`: the whole product in one process on the embedded database in ./data, with a seeded demo
 * company. A second start reuses the data directory (and its generated token key) as it was left.
 */
export async function runDemo(config: Config): Promise<number> {
  const dataDir = path.resolve(config.RECRUITER_SYNC_DATA_DIR);
  const database = await openDatabase({ dataDir });
  await migrateToLatest(database);
  const tokenKey = config.TOKEN_ENCRYPTION_KEY ?? demoTokenKey(dataDir);

  const existing = await database.db.selectFrom('contracts').select('id').where('name', '=', 'Northwind Talent').executeTakeFirst();
  if (!existing) {
    console.error('Seeding the demo company…');
    await seedDemoCompany({ db: database.db, clock: systemClock });
  }

  // The demo talks to a person at a terminal: warnings and errors only, unless LOG_LEVEL says otherwise.
  const logLevel = process.env.LOG_LEVEL ? config.LOG_LEVEL : 'warn';
  const runtime = await startRuntime({ config: { ...config, LOG_LEVEL: logLevel, TOKEN_ENCRYPTION_KEY: tokenKey, DATABASE_URL: undefined }, role: 'all', database });
  const logins = await database.db
    .selectFrom('users')
    .innerJoin('contracts', 'contracts.id', 'users.contract_id')
    .select(['users.email', 'users.role', 'users.name'])
    .where('contracts.name', '=', 'Northwind Talent')
    .orderBy('users.role')
    .orderBy('users.email')
    .execute();
  const lines = [
    '',
    `recruiter-sync demo is running at ${runtime.url}`,
    `  health: ${runtime.url}/healthz   API document: ${runtime.url}/openapi.json`,
    `  data:   ${dataDir} (embedded database)`,
    '',
    `Demo logins (password "${DEMO_PASSWORD}"):`,
    ...logins.map((u) => `  ${u.role.padEnd(9)} ${u.email.padEnd(28)} ${u.name}`),
    '',
    'Press Ctrl+C to stop.',
  ];
  console.log(lines.join('\n'));
  await closeOnSignals(runtime.close);
  return 0;
}

/** The demo's token-encryption key: generated once into the data directory, readable by its owner only. */
function demoTokenKey(dataDir: string): string {
  const file = path.join(dataDir, 'token-encryption.key');
  if (!fs.existsSync(file)) fs.writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600 });
  return fs.readFileSync(file, 'utf8').trim();
}
