import { sql, type Kysely } from 'kysely';

/**
 * Push notifications.
 * - `push_subscriptions`: one live channel per grant and watched resource. A Gmail watch is named by its mailbox
 *   address, which several grants may share, so the provider id is no longer unique on its own; `renew_requested_at`
 *   marks a channel the provider asked us to renew (Graph `reauthorizationRequired`).
 * - `push_stops`: channels of deauthorized grants still to be ended at the provider. Deauthorization deletes
 *   the grant's tokens at once, so each row carries the sealed tokens it needs, as `token_revocations` does; the
 *   row goes once the provider confirms (or after the last attempt).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE push_subscriptions DROP CONSTRAINT IF EXISTS push_subscriptions_provider_external_id_key;
    ALTER TABLE push_subscriptions ADD CONSTRAINT push_subscriptions_grant_resource_key UNIQUE (authorization_id, resource);
    CREATE INDEX push_subscriptions_channel_idx ON push_subscriptions (provider, external_id);
    ALTER TABLE push_subscriptions
      ADD COLUMN renew_requested_at timestamptz,
      ADD COLUMN renewed_at timestamptz;

    CREATE TABLE push_stops (
      id uuid PRIMARY KEY,
      contract_id uuid NOT NULL REFERENCES contracts(id),
      authorization_id uuid NOT NULL REFERENCES mailbox_authorizations(id) ON DELETE CASCADE,
      provider text NOT NULL CHECK (provider IN ('google', 'microsoft')),
      external_id text NOT NULL,
      resource text NOT NULL,
      -- Sealed like the grant's own (bound to "<authorization_id>:access" / ":refresh"); never in clear.
      access_token_ciphertext text,
      access_token_expires_at timestamptz,
      refresh_token_ciphertext text,
      scopes text[] NOT NULL DEFAULT '{}',
      reason text NOT NULL,
      attempts int NOT NULL DEFAULT 0,
      last_error text,
      created_at timestamptz NOT NULL,
      next_attempt_at timestamptz NOT NULL
    );
    CREATE INDEX push_stops_due_idx ON push_stops (next_attempt_at);
    CREATE INDEX push_stops_contract_idx ON push_stops (contract_id);
    CREATE INDEX push_stops_authorization_idx ON push_stops (authorization_id);
  `.execute(db);
}

/** Row type of `push_stops`, for `src/store/schema.ts`. */
export interface PushStopsTable {
  id: string;
  contract_id: string;
  authorization_id: string;
  provider: 'google' | 'microsoft';
  external_id: string;
  resource: string;
  access_token_ciphertext: string | null;
  access_token_expires_at: Date | null;
  refresh_token_ciphertext: string | null;
  scopes: string[];
  reason: string;
  attempts: number;
  last_error: string | null;
  created_at: Date;
  next_attempt_at: Date;
}
