import { sql, type Kysely } from 'kysely';

/**
 * Recurring schedules and the job queue's view of the product clock. The queue itself (pg-boss) keeps its
 * own tables in the `pgboss` schema and creates them at start.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    -- One row per recurring job. Runs are due by the product clock (test mode moves it by months), so
    -- next_run_at is compared with the product's "now", never with the database's.
    CREATE TABLE job_schedules (
      name text PRIMARY KEY,
      queue text NOT NULL,
      payload jsonb NOT NULL,
      -- 'every <seconds>s' or a five-field cron expression (UTC).
      every text NOT NULL,
      next_run_at timestamptz NOT NULL,
      last_run_at timestamptz,
      updated_at timestamptz NOT NULL
    );

    -- The queue stores start times in database time. offset_ms is the product clock minus the database
    -- clock those times were written against; when the product clock jumps, waiting jobs are moved by the
    -- jump so that they fall due by the product clock.
    CREATE TABLE job_clock (
      id boolean PRIMARY KEY DEFAULT true CHECK (id),
      offset_ms bigint NOT NULL,
      -- The last move, read back by the statement that made it (RETURNING sees only new values).
      last_shift_ms bigint NOT NULL DEFAULT 0
    );
    INSERT INTO job_clock (id, offset_ms) VALUES (true, 0);
  `.execute(db);
}
