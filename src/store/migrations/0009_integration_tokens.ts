import { sql, type Kysely } from 'kysely';

/**
 * integration tokens say who created them and why, and every audit entry says which token (if any)
 * performed it, so an action taken by an integration acting as a user is told apart from the user's own.
 * `created_by` / `actor_token_id` are text, not uuid: the demo seed and the CLI act with non-stored actors.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE api_tokens
      ADD COLUMN created_by text,
      ADD COLUMN purpose text CHECK (purpose IS NULL OR char_length(purpose) <= 200);
    ALTER TABLE audit_log
      ADD COLUMN actor_token_id text;
  `.execute(db);
}
