import { sql, type Kysely } from 'kysely';

/**
 * Accounts: a user's email is unique within a contract only, so one company can neither squat on nor learn about
 * another company's addresses; and failed sign-ins are counted here, so every web process throttles alike.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP INDEX users_email_key;
    CREATE UNIQUE INDEX users_contract_email_key ON users (contract_id, lower(email));
    -- Sign-in looks users up by address across contracts.
    CREATE INDEX users_email_idx ON users (lower(email));

    -- One row per throttled key: 'account:' or 'address:' plus a SHA-256 of the normalized email or client
    -- address, so the table keeps no address in the clear. The counter decays after a quiet window.
    CREATE TABLE sign_in_throttles (
      key text PRIMARY KEY,
      failures integer NOT NULL,
      last_failure_at timestamptz NOT NULL,
      blocked_until timestamptz
    );
  `.execute(db);
}
