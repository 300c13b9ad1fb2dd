import { sql, type Kysely } from 'kysely';

/**
 * Grant health: when the provider last accepted a grant (a sync run or the light health probe), so the
 * probe asks only about grants nobody has heard from lately; and a grant marked needs_reauthorization records when
 * its syncing stopped in `deauthorized_at`, as a deauthorization does, so the six-month rule of R-23 applies to it.
 * Existing refused grants take their last update as that time (the best record there is). And a purged thread's
 * marker keeps whether the thread was started from the product.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE mailbox_authorizations ADD COLUMN last_checked_at timestamptz;
    UPDATE mailbox_authorizations SET deauthorized_at = updated_at
      WHERE state = 'needs_reauthorization' AND (deauthorized_at IS NULL OR deauthorized_at < last_authorized_at);
    CREATE INDEX mailbox_authorizations_probe_idx ON mailbox_authorizations (last_checked_at) WHERE state = 'authorized';
    -- R-25 with R-50: a purged thread started from the product keeps that fact, so a later reply still qualifies.
    ALTER TABLE purged_threads ADD COLUMN initiated_through_product boolean NOT NULL DEFAULT false;
  `.execute(db);
}
