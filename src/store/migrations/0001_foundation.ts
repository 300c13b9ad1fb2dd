import { sql, type Kysely } from 'kysely';

/** Tenancy, people, admin settings, authorizations, credentials and the audit log (SPEC §1, §2). */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE contracts (
      id uuid PRIMARY KEY,
      name text NOT NULL,
      status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
      company_domains text[] NOT NULL DEFAULT '{}',
      email_provider text CHECK (email_provider IN ('google', 'microsoft')),
      email_access text NOT NULL DEFAULT 'off' CHECK (email_access IN ('off', 'view', 'send_and_view')),
      calendar_enabled boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      suspended_at timestamptz
    );

    CREATE TABLE users (
      id uuid PRIMARY KEY,
      contract_id uuid NOT NULL REFERENCES contracts(id),
      email text NOT NULL,
      name text NOT NULL,
      role text NOT NULL CHECK (role IN ('admin', 'recruiter')),
      password_hash text,
      created_at timestamptz NOT NULL
    );
    -- Sign-in is by email alone, so an address names one user across all contracts.
    CREATE UNIQUE INDEX users_email_key ON users (lower(email));
    CREATE INDEX users_contract_idx ON users (contract_id);

    CREATE TABLE seats (
      id uuid PRIMARY KEY,
      contract_id uuid NOT NULL REFERENCES contracts(id),
      user_id uuid REFERENCES users(id),
      status text NOT NULL CHECK (status IN ('active', 'parked')),
      created_at timestamptz NOT NULL
    );
    CREATE INDEX seats_contract_idx ON seats (contract_id);
    -- A user holds at most one seat of a contract at a time.
    CREATE UNIQUE INDEX seats_holder_key ON seats (user_id) WHERE user_id IS NOT NULL;

    CREATE TABLE seat_holders (
      id bigserial PRIMARY KEY,
      seat_id uuid NOT NULL REFERENCES seats(id),
      contract_id uuid NOT NULL REFERENCES contracts(id),
      user_id uuid NOT NULL REFERENCES users(id),
      held_from timestamptz NOT NULL,
      held_until timestamptz
    );
    CREATE INDEX seat_holders_seat_idx ON seat_holders (seat_id, held_from);

    CREATE TABLE candidates (
      id uuid PRIMARY KEY,
      contract_id uuid NOT NULL REFERENCES contracts(id),
      name text NOT NULL,
      email_discovery text NOT NULL CHECK (email_discovery IN ('anyone', 'second_degree', 'first_degree', 'nobody')),
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL
    );
    CREATE INDEX candidates_contract_idx ON candidates (contract_id);

    CREATE TABLE candidate_emails (
      candidate_id uuid NOT NULL REFERENCES candidates(id) ON DELETE CASCADE,
      contract_id uuid NOT NULL REFERENCES contracts(id),
      address text NOT NULL,
      normalized text NOT NULL,
      position int NOT NULL,
      added_at timestamptz NOT NULL,
      PRIMARY KEY (candidate_id, normalized)
    );
    CREATE INDEX candidate_emails_lookup_idx ON candidate_emails (contract_id, normalized);

    CREATE TABLE candidate_connections (
      candidate_id uuid NOT NULL REFERENCES candidates(id) ON DELETE CASCADE,
      user_id uuid NOT NULL REFERENCES users(id),
      contract_id uuid NOT NULL REFERENCES contracts(id),
      degree smallint NOT NULL CHECK (degree IN (1, 2, 3)),
      updated_at timestamptz NOT NULL,
      PRIMARY KEY (candidate_id, user_id)
    );

    CREATE TABLE projects (
      id uuid PRIMARY KEY,
      contract_id uuid NOT NULL REFERENCES contracts(id),
      name text NOT NULL,
      status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'closed')),
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL
    );
    CREATE INDEX projects_contract_idx ON projects (contract_id);

    CREATE TABLE project_candidates (
      project_id uuid NOT NULL REFERENCES projects(id),
      candidate_id uuid NOT NULL REFERENCES candidates(id) ON DELETE CASCADE,
      contract_id uuid NOT NULL REFERENCES contracts(id),
      added_at timestamptz NOT NULL,
      PRIMARY KEY (project_id, candidate_id)
    );
    CREATE INDEX project_candidates_candidate_idx ON project_candidates (candidate_id);

    -- A seat's OAuth grant, one row per kind (email, calendar). Tokens are ciphertext (R-11).
    CREATE TABLE mailbox_authorizations (
      id uuid PRIMARY KEY,
      seat_id uuid NOT NULL REFERENCES seats(id),
      contract_id uuid NOT NULL REFERENCES contracts(id),
      kind text NOT NULL CHECK (kind IN ('email', 'calendar')),
      provider text NOT NULL CHECK (provider IN ('google', 'microsoft')),
      state text NOT NULL CHECK (state IN ('authorized', 'needs_reauthorization', 'deauthorized')),
      address text,
      aliases text[] NOT NULL DEFAULT '{}',
      scopes text[] NOT NULL DEFAULT '{}',
      access_token_ciphertext text,
      refresh_token_ciphertext text,
      access_token_expires_at timestamptz,
      first_authorized_at timestamptz NOT NULL,
      last_authorized_at timestamptz NOT NULL,
      deauthorized_at timestamptz,
      state_reason text,
      updated_at timestamptz NOT NULL,
      UNIQUE (seat_id, kind)
    );
    CREATE INDEX mailbox_authorizations_contract_idx ON mailbox_authorizations (contract_id);

    CREATE TABLE api_tokens (
      id uuid PRIMARY KEY,
      kind text NOT NULL CHECK (kind IN ('system', 'contract')),
      contract_id uuid REFERENCES contracts(id),
      token_hash text NOT NULL UNIQUE,
      created_at timestamptz NOT NULL,
      revoked_at timestamptz,
      CHECK ((kind = 'system') = (contract_id IS NULL))
    );

    CREATE TABLE sessions (
      id uuid PRIMARY KEY,
      user_id uuid NOT NULL REFERENCES users(id),
      token_hash text NOT NULL UNIQUE,
      created_at timestamptz NOT NULL,
      expires_at timestamptz NOT NULL
    );

    CREATE TABLE audit_log (
      id bigserial PRIMARY KEY,
      contract_id uuid NOT NULL REFERENCES contracts(id),
      at timestamptz NOT NULL,
      actor_kind text NOT NULL CHECK (actor_kind IN ('user', 'integration', 'system')),
      actor_user_id uuid,
      action text NOT NULL,
      target_type text,
      target_id text,
      details jsonb NOT NULL DEFAULT '{}'
    );
    CREATE INDEX audit_log_contract_idx ON audit_log (contract_id, id DESC);

    -- R-07: the audit log is append-only, enforced by the database itself.
    CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'audit_log is append-only (R-07)';
    END;
    $$;
    CREATE TRIGGER audit_log_no_update_or_delete
      BEFORE UPDATE OR DELETE ON audit_log
      FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
  `.execute(db);
}
