import { sql, type Kysely } from 'kysely';

/** Seat authorization (SPEC §3): OAuth states, refresh leases, and revocations still to be done at the provider. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    -- One row per authorization attempt; the state travels through the provider, only its hash is kept.
    CREATE TABLE oauth_states (
      id uuid PRIMARY KEY,
      state_hash text NOT NULL UNIQUE,
      contract_id uuid NOT NULL REFERENCES contracts(id),
      seat_id uuid NOT NULL REFERENCES seats(id),
      user_id uuid NOT NULL REFERENCES users(id),
      kind text NOT NULL CHECK (kind IN ('email', 'calendar')),
      provider text NOT NULL CHECK (provider IN ('google', 'microsoft')),
      scopes text[] NOT NULL,
      code_verifier_ciphertext text NOT NULL,
      redirect_after text,
      created_at timestamptz NOT NULL,
      expires_at timestamptz NOT NULL,
      used_at timestamptz
    );
    CREATE INDEX oauth_states_contract_idx ON oauth_states (contract_id);

    -- R-11: one refresh in flight per grant across all processes (a lease, not a held transaction).
    ALTER TABLE mailbox_authorizations ADD COLUMN refresh_lease_id uuid, ADD COLUMN refresh_lease_until timestamptz;

    -- R-22: tokens leave the grant at once; revocation at the provider is retried from here until done.
    CREATE TABLE token_revocations (
      id uuid PRIMARY KEY,
      contract_id uuid NOT NULL REFERENCES contracts(id),
      seat_id uuid NOT NULL REFERENCES seats(id),
      provider text NOT NULL CHECK (provider IN ('google', 'microsoft')),
      token_ciphertext text NOT NULL,
      -- The associated data the envelope was sealed with (where the token lived).
      token_bound_to text NOT NULL,
      reason text NOT NULL,
      attempts int NOT NULL DEFAULT 0,
      last_error text,
      created_at timestamptz NOT NULL,
      next_attempt_at timestamptz NOT NULL
    );
    CREATE INDEX token_revocations_due_idx ON token_revocations (next_attempt_at);
  `.execute(db);
}
