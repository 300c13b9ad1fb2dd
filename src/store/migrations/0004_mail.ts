import { sql, type Kysely } from 'kysely';

/**
 * Synced mail (SPEC §4–§6): threads and messages owned by a seat, the ingestion decision log, sync
 * state with cursors and checkpoints, push subscriptions, and purged-thread
 * markers. Every table carries contract_id so that suspension can find all of it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE mail_threads (
      id uuid PRIMARY KEY,
      contract_id uuid NOT NULL REFERENCES contracts(id),
      owner_seat_id uuid NOT NULL REFERENCES seats(id),
      provider text NOT NULL CHECK (provider IN ('google', 'microsoft')),
      provider_thread_id text NOT NULL,
      candidate_id uuid REFERENCES candidates(id) ON DELETE SET NULL,
      counterpart text NOT NULL,
      subject text NOT NULL DEFAULT '',
      last_activity_at timestamptz NOT NULL,
      initiated_through_product boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL,
      UNIQUE (owner_seat_id, provider_thread_id)
    );
    CREATE INDEX mail_threads_candidate_idx ON mail_threads (candidate_id, last_activity_at DESC);
    CREATE INDEX mail_threads_activity_idx ON mail_threads (last_activity_at);
    CREATE INDEX mail_threads_contract_idx ON mail_threads (contract_id);

    CREATE TABLE mail_messages (
      id uuid PRIMARY KEY,
      contract_id uuid NOT NULL REFERENCES contracts(id),
      owner_seat_id uuid NOT NULL REFERENCES seats(id),
      -- R-61/R-62: the user holding the seat when the message was stored; only they may see it while private.
      owner_user_id uuid REFERENCES users(id),
      thread_id uuid NOT NULL REFERENCES mail_threads(id) ON DELETE CASCADE,
      candidate_id uuid REFERENCES candidates(id) ON DELETE SET NULL,
      provider_message_id text NOT NULL,
      rfc_message_id text,
      in_reply_to text,
      references_ids text[] NOT NULL DEFAULT '{}',
      direction text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
      from_address text NOT NULL,
      from_name text,
      to_addresses jsonb NOT NULL DEFAULT '[]',
      cc_addresses jsonb NOT NULL DEFAULT '[]',
      counterpart text NOT NULL,
      subject text NOT NULL DEFAULT '',
      sent_at timestamptz NOT NULL,
      snippet text NOT NULL DEFAULT '',
      body_html text,
      body_text text,
      visibility text NOT NULL DEFAULT 'private' CHECK (visibility IN ('private', 'contract')),
      origin text NOT NULL CHECK (origin IN ('synced', 'sent_from_product')),
      stored_at timestamptz NOT NULL,
      UNIQUE (owner_seat_id, provider_message_id)
    );
    CREATE INDEX mail_messages_thread_idx ON mail_messages (thread_id, sent_at);
    CREATE INDEX mail_messages_candidate_idx ON mail_messages (candidate_id, sent_at DESC);
    CREATE INDEX mail_messages_rfc_idx ON mail_messages (owner_seat_id, rfc_message_id);
    CREATE INDEX mail_messages_contract_idx ON mail_messages (contract_id);

    CREATE TABLE mail_attachments (
      id uuid PRIMARY KEY,
      contract_id uuid NOT NULL REFERENCES contracts(id),
      message_id uuid NOT NULL REFERENCES mail_messages(id) ON DELETE CASCADE,
      filename text NOT NULL,
      content_type text NOT NULL,
      size_bytes int NOT NULL
    );
    CREATE INDEX mail_attachments_message_idx ON mail_attachments (message_id);
    CREATE INDEX mail_attachments_contract_idx ON mail_attachments (contract_id);

    -- R-40: why each message was or was not ingested. Header facts only, never a body.
    CREATE TABLE ingestion_decisions (
      id bigserial PRIMARY KEY,
      contract_id uuid NOT NULL REFERENCES contracts(id),
      seat_id uuid NOT NULL REFERENCES seats(id),
      provider_message_id text NOT NULL,
      provider_thread_id text,
      counterpart text,
      decided_at timestamptz NOT NULL,
      ingested boolean NOT NULL,
      rule text,
      detail jsonb NOT NULL DEFAULT '{}',
      UNIQUE (seat_id, provider_message_id)
    );
    CREATE INDEX ingestion_decisions_counterpart_idx ON ingestion_decisions (seat_id, counterpart);
    CREATE INDEX ingestion_decisions_contract_idx ON ingestion_decisions (contract_id);

    -- One row per email grant: where its sync stands (phase, cursor, checkpoint) and how it went.
    CREATE TABLE sync_states (
      authorization_id uuid PRIMARY KEY REFERENCES mailbox_authorizations(id) ON DELETE CASCADE,
      contract_id uuid NOT NULL REFERENCES contracts(id),
      seat_id uuid NOT NULL REFERENCES seats(id),
      phase text NOT NULL DEFAULT 'idle' CHECK (phase IN ('idle', 'historical', 'incremental', 'paused')),
      cursor jsonb,
      checkpoint jsonb,
      window_start timestamptz,
      messages_examined int NOT NULL DEFAULT 0,
      messages_ingested int NOT NULL DEFAULT 0,
      messages_estimated int,
      historical_started_at timestamptz,
      historical_completed_at timestamptz,
      last_synced_at timestamptz,
      last_error text,
      last_error_kind text,
      updated_at timestamptz NOT NULL
    );
    CREATE INDEX sync_states_contract_idx ON sync_states (contract_id);

    CREATE TABLE push_subscriptions (
      id uuid PRIMARY KEY,
      contract_id uuid NOT NULL REFERENCES contracts(id),
      authorization_id uuid NOT NULL REFERENCES mailbox_authorizations(id) ON DELETE CASCADE,
      provider text NOT NULL CHECK (provider IN ('google', 'microsoft')),
      external_id text NOT NULL,
      resource text NOT NULL,
      client_state_hash text,
      expires_at timestamptz NOT NULL,
      created_at timestamptz NOT NULL,
      UNIQUE (provider, external_id)
    );
    CREATE INDEX push_subscriptions_contract_idx ON push_subscriptions (contract_id);
    CREATE INDEX push_subscriptions_expiry_idx ON push_subscriptions (expires_at);

    -- R-25: a purged thread that becomes active again syncs only messages from this moment on.
    CREATE TABLE purged_threads (
      contract_id uuid NOT NULL REFERENCES contracts(id),
      owner_seat_id uuid NOT NULL REFERENCES seats(id),
      provider_thread_id text NOT NULL,
      purged_at timestamptz NOT NULL,
      PRIMARY KEY (owner_seat_id, provider_thread_id)
    );
    CREATE INDEX purged_threads_contract_idx ON purged_threads (contract_id);
  `.execute(db);
}
