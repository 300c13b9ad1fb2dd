import { sql, type Kysely } from 'kysely';

/**
 * one quota budget per provider mailbox, shared by every process (sync workers, web processes sending mail
 * or creating events). `slots` holds the units spent per time slot of the sliding window (slot number → units),
 * `leases` the requests in flight (`[{id, until}]`, each lapsing at `until` so a crashed process frees its share).
 * Draws lock the row, so two processes never both take the last units.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE quota_budgets (
      provider text NOT NULL CHECK (provider IN ('google', 'microsoft')),
      address text NOT NULL,
      slots jsonb NOT NULL DEFAULT '{}'::jsonb,
      leases jsonb NOT NULL DEFAULT '[]'::jsonb,
      updated_at timestamptz NOT NULL,
      PRIMARY KEY (provider, address)
    );
  `.execute(db);
}
