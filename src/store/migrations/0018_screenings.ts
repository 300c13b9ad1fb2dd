import { sql, type ColumnType, type Kysely } from 'kysely';

/**
 * Screenings and candidate addresses managed from the profile:
 * - `calendar_events.cancelled_at`: a screening cancelled from the product (the provider notified the candidate);
 *   kept so the profile can say so, excluded from the scheduled list.
 * - `candidate_emails.added_by_user_id`: who typed an address in the product, so that person (or an admin)
 *   may remove it again; null for addresses the host system gave.
 * - `candidate_email_removals`: an address removed from a profile, so the decision log can say why its mail stopped
 *   syncing and a conversation started from the product with it is no longer exempt. The
 *   company's own data like the profile (no contract_id of its own: it goes with the candidate).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE calendar_events ADD COLUMN cancelled_at timestamptz;
    ALTER TABLE calendar_events ADD COLUMN updated_at timestamptz;
    ALTER TABLE candidate_emails ADD COLUMN added_by_user_id uuid REFERENCES users(id) ON DELETE SET NULL;
    CREATE TABLE candidate_email_removals (
      candidate_id uuid NOT NULL REFERENCES candidates(id) ON DELETE CASCADE,
      normalized text NOT NULL,
      removed_at timestamptz NOT NULL,
      removed_by_user_id uuid REFERENCES users(id) ON DELETE SET NULL,
      PRIMARY KEY (candidate_id, normalized)
    );
  `.execute(db);
}

/** Row type of `candidate_email_removals`, for `src/store/schema.ts`. */
export interface CandidateEmailRemovalsTable {
  candidate_id: string;
  normalized: string;
  removed_at: Date;
  removed_by_user_id: string | null;
}

/** `calendar_events` with the columns this migration adds (the service's view of the table). */
export interface ScreeningColumns {
  cancelled_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  updated_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}
