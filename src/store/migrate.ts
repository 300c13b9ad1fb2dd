import { Migrator, type Migration, type MigrationProvider } from 'kysely';
import type { Database } from './database.ts';
import * as m0001 from './migrations/0001_foundation.ts';
import * as m0002 from './migrations/0002_jobs.ts';
import * as m0003 from './migrations/0003_authorization.ts';
import * as m0004 from './migrations/0004_mail.ts';
import * as m0005 from './migrations/0005_calendar_events.ts';
import * as m0006 from './migrations/0006_push_channels.ts';
import * as m0007 from './migrations/0007_sync_run_lock.ts';
import * as m0008 from './migrations/0008_oauth_binding.ts';
import * as m0009 from './migrations/0009_integration_tokens.ts';
import * as m0010 from './migrations/0010_accounts.ts';
import * as m0011 from './migrations/0011_keys_and_audit.ts';
import * as m0012 from './migrations/0012_seat_transfer.ts';
import * as m0013 from './migrations/0013_sync_cursor_identity.ts';
import * as m0014 from './migrations/0014_quota_budget.ts';
import * as m0015 from './migrations/0015_grant_health.ts';
import * as m0016 from './migrations/0016_suspension_jobs.ts';
import * as m0017 from './migrations/0017_mail_folders.ts';
import * as m0018 from './migrations/0018_screenings.ts';
import * as m0019 from './migrations/0019_retained_deletions.ts';
import * as m0025 from './migrations/0025_recorded_at.ts';

/** Versioned migrations, applied in name order. A new migration is a new file plus a line here. */
const migrations: Record<string, Migration> = {
  '0001_foundation': m0001,
  '0002_jobs': m0002,
  '0003_authorization': m0003,
  '0004_mail': m0004,
  '0005_calendar_events': m0005,
  '0006_push_channels': m0006,
  '0007_sync_run_lock': m0007,
  '0008_oauth_binding': m0008,
  '0009_integration_tokens': m0009,
  '0010_accounts': m0010,
  '0011_keys_and_audit': m0011,
  '0012_seat_transfer': m0012,
  '0013_sync_cursor_identity': m0013,
  '0014_quota_budget': m0014,
  '0015_grant_health': m0015,
  '0016_suspension_jobs': m0016,
  '0017_mail_folders': m0017,
  '0018_screenings': m0018,
  '0019_retained_deletions': m0019,
  '0025_recorded_at': m0025,
};

const provider: MigrationProvider = { getMigrations: async () => migrations };

export async function migrateToLatest(database: Database): Promise<string[]> {
  // Migrations landed side by side can arrive out of name order on a database that already ran a later one.
  const migrator = new Migrator({ db: database.db, provider, allowUnorderedMigrations: true });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`migration ${failed?.migrationName ?? '?'} failed: ${(error as Error).message}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
