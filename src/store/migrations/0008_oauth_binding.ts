import { sql, type Kysely } from 'kysely';

/**
 * the OAuth flow belongs to whoever started it, and a mailbox outside the company domains needs the
 * admin's permission.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    -- Who started the flow: a hash of the browser session, or of the integration token acting as the user.
    -- The callback (or the integration's completion call) must present the same secret.
    ALTER TABLE oauth_states
      ADD COLUMN binding_kind text CHECK (binding_kind IN ('session', 'integration')),
      ADD COLUMN binding_hash text,
      -- An integration's flow: the browser's callback parks the code here (sealed, short lived) and the
      -- integration finishes it with the flow id only that browser saw (its hash is kept).
      ADD COLUMN flow_hash text UNIQUE,
      ADD COLUMN code_ciphertext text,
      ADD COLUMN code_expires_at timestamptz,
      ADD COLUMN completed_at timestamptz;

    -- Off by default: a personal or foreign mailbox is refused unless the admin allows it.
    ALTER TABLE contracts ADD COLUMN allow_external_mailboxes boolean NOT NULL DEFAULT false;

    -- A mailbox is connected to one seat only: looked up by address at every grant.
    CREATE INDEX mailbox_authorizations_address_idx ON mailbox_authorizations (lower(address));
  `.execute(db);
}
