import { sql, type Kysely } from 'kysely';

/**
 * R-22 with R-23: `mail_messages.source_deleted_while_deauthorized_at` — when the first sync after a re-authorization
 * found the message gone at the provider (deleted or in Trash while the grant was not authorized). Such a message
 * stays in the product: no later change, delta or reconcile removes it, while deletions made after the
 * re-authorization are mirrored as usual.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE mail_messages ADD COLUMN source_deleted_while_deauthorized_at timestamptz`.execute(db);
}
