import { sql, type Kysely } from 'kysely';

/**
 * `mail_messages.recorded_at`: when the row was written, by the database's clock. Every process writes it the same way
 * (a column default), so it compares with `sync_states.cursor_since` (also the database's clock) whichever worker
 * stored the message: a worker whose own clock runs behind the one that began the scan no longer stores mail "before"
 * the scan and out of its reconcile. `stored_at` stays the product's time. Rows stored earlier take it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE mail_messages ADD COLUMN recorded_at timestamptz;
    UPDATE mail_messages SET recorded_at = stored_at;
    ALTER TABLE mail_messages ALTER COLUMN recorded_at SET DEFAULT clock_timestamp(), ALTER COLUMN recorded_at SET NOT NULL;
  `.execute(db);
}
