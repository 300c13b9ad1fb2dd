import { sql, type Kysely } from 'kysely';

/**
 * One sync run per email grant at a time (historical, incremental or a targeted backfill), across every worker
 * process: a lease on the grant's sync state, kept alive by its holder and timed by the database's clock, so a
 * run of a process that died is taken over once its lease has lapsed.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE sync_states
      ADD COLUMN run_lease_id uuid,
      ADD COLUMN run_lease_until timestamptz,
      ADD COLUMN run_lease_kind text CHECK (run_lease_kind IN ('historical', 'incremental', 'backfill'));
  `.execute(db);
}
