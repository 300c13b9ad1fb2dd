import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type Database } from '../../src/store/database.ts';
import { migrateToLatest } from '../../src/store/migrate.ts';

/**
 * The database backends storage tests run on: embedded PGlite always, a Postgres server when
 * TEST_DATABASE_URL is set. Each `open()` gives a fresh, migrated, private database (on the server a new
 * database named rs_test_<random>, dropped again on close), so test files can run in parallel.
 */
export interface TestBackend {
  name: 'pglite' | 'postgres';
  open(options?: { migrate?: boolean }): Promise<Database>;
}

export const serverUrl = process.env.TEST_DATABASE_URL || undefined;

const pglite: TestBackend = {
  name: 'pglite',
  async open(options) {
    const database = await openDatabase({ memory: true });
    if (options?.migrate !== false) await migrateToLatest(database);
    return database;
  },
};

const postgres: TestBackend = {
  name: 'postgres',
  async open(options) {
    const { url, drop } = await createScratchDatabase();
    const database = await openDatabase({ url, poolSize: 5 });
    if (options?.migrate !== false) await migrateToLatest(database);
    return {
      ...database,
      close: async () => {
        await database.close();
        await drop();
      },
    };
  },
};

export const backends: TestBackend[] = serverUrl ? [pglite, postgres] : [pglite];

/** A new empty database on the test server; `drop()` removes it (ending leftover connections first). */
export async function createScratchDatabase(): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  if (!serverUrl) throw new Error('TEST_DATABASE_URL is not set');
  return scratchDatabaseOn(serverUrl, 'rs_test');
}

/** A new empty database named `<prefix>_<random>` on the server at `server` (tests and benchmarks). */
export async function scratchDatabaseOn(server: string, prefix: string): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(server);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      const client = new pg.Client({ connectionString: server });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
