import { sql, type Kysely } from 'kysely';

/**
 * Screening interviews scheduled from the product: the event the seat's calendar holds at the
 * provider. Third-party data of the contract, deleted on suspension.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE calendar_events (
      id uuid PRIMARY KEY,
      contract_id uuid NOT NULL REFERENCES contracts(id),
      seat_id uuid NOT NULL REFERENCES seats(id),
      -- The user who scheduled it (the seat's holder at the time).
      user_id uuid REFERENCES users(id),
      candidate_id uuid REFERENCES candidates(id) ON DELETE SET NULL,
      provider text NOT NULL CHECK (provider IN ('google', 'microsoft')),
      provider_event_id text NOT NULL,
      title text NOT NULL,
      starts_at timestamptz NOT NULL,
      ends_at timestamptz NOT NULL,
      conferencing text NOT NULL CHECK (conferencing IN ('google_meet', 'teams', 'none')),
      join_url text,
      created_at timestamptz NOT NULL,
      UNIQUE (seat_id, provider_event_id)
    );
    CREATE INDEX calendar_events_contract_idx ON calendar_events (contract_id);
    CREATE INDEX calendar_events_candidate_idx ON calendar_events (candidate_id, starts_at);
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE calendar_events`.execute(db);
}

/** Row type of `calendar_events`, for `src/store/schema.ts`. */
export interface CalendarEventsTable {
  id: string;
  contract_id: string;
  seat_id: string;
  user_id: string | null;
  candidate_id: string | null;
  provider: 'google' | 'microsoft';
  provider_event_id: string;
  title: string;
  starts_at: Date;
  ends_at: Date;
  conferencing: 'google_meet' | 'teams' | 'none';
  join_url: string | null;
  created_at: Date;
}
