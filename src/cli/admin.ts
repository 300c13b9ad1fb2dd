import type { Config } from '../config.ts';
import { systemClock } from '../clock.ts';
import { createApiToken } from '../services/credentials.ts';
import { openDatabase } from '../store/database.ts';
import { migrateToLatest } from '../store/migrate.ts';

export async function runMigrate(config: Config): Promise<number> {
  const database = await openDatabase({ url: config.DATABASE_URL, dataDir: config.RECRUITER_SYNC_DATA_DIR });
  try {
    const applied = await migrateToLatest(database);
    console.error(applied.length ? `Applied ${applied.join(', ')}` : 'Database is up to date.');
    return 0;
  } finally {
    await database.close();
  }
}

/** Prints the token alone on stdout so scripts can capture it; it is stored only as a hash. */
export async function runAdminTokenCreate(config: Config): Promise<number> {
  const database = await openDatabase({ url: config.DATABASE_URL, dataDir: config.RECRUITER_SYNC_DATA_DIR });
  try {
    await migrateToLatest(database);
    const { token } = await createApiToken({ db: database.db, clock: systemClock }, { kind: 'system' });
    process.stdout.write(`${token}\n`);
    return 0;
  } finally {
    await database.close();
  }
}
