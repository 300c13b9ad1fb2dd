import { sql, type Kysely } from 'kysely';

/**
 * Whose cursor a sync state holds: the provider and mailbox address the historical sync that issued it
 * read, and when that sync began. A grant re-authorized at another provider or with another mailbox never has the
 * old cursor handed on; it starts a historical sync of its own. Existing states take their grant's current
 * provider and address (the only ones their cursor can have come from until now).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE sync_states
      ADD COLUMN cursor_provider text CHECK (cursor_provider IN ('google', 'microsoft')),
      ADD COLUMN cursor_address text,
      ADD COLUMN cursor_since timestamptz;
    UPDATE sync_states s
      SET cursor_provider = a.provider, cursor_address = lower(trim(a.address))
      FROM mailbox_authorizations a
      WHERE a.id = s.authorization_id AND a.address IS NOT NULL AND s.phase IN ('historical', 'incremental');
  `.execute(db);
}
