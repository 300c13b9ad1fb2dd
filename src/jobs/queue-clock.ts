import type { Clock } from '../clock.ts';
import type { RawSql } from '../store/database.ts';

export const BOSS_SCHEMA = 'pgboss';

/** Drift below this is measurement noise, not a move of the product clock. */
const TOLERANCE_MS = 50;
/** A measurement whose round trip took longer than this is too blurred to act on (unless the drift is large). */
const MAX_ROUND_TRIP_MS = 250;
const LARGE_DRIFT_MS = 60_000;

/**
 * Keeps the queue's times in step with the product clock.
 *
 * pg-boss decides what is due with the database's `now()` (fetch, retry back-off, expiry). The product
 * clock may run ahead of it — test mode moves it forward by months — so the queue stores start times in
 * database time and `job_clock.offset_ms` records the product-minus-database offset they were written
 * against: a job is due by the product clock at `start_after + offset_ms`. When the product clock moves,
 * `sync()` moves every waiting job back by the same amount in one statement, so pg-boss's own
 * comparisons (in this process and any other) agree with the product clock again.
 *
 * The product clock never runs backwards within a process; a smaller offset means a restart with a fresh
 * clock. Then the offset is only re-based: waiting jobs keep their distance in real time, instead of
 * stalling until the new clock catches up with the old one. Test mode assumes one clock (one process).
 *
 * With the system clock (production) there is nothing to follow: the offset stays 0.
 */
export class QueueClock {
  private offsetMs = 0;

  constructor(
    private readonly raw: RawSql,
    private readonly clock: Clock,
    readonly follows: boolean,
  ) {}

  /** Reads the stored offset and catches up with the product clock. */
  async load(): Promise<void> {
    if (!this.follows) return;
    const { rows } = await this.raw.query<{ offset_ms: number | string }>('SELECT offset_ms FROM job_clock WHERE id');
    this.offsetMs = Number(rows[0]?.offset_ms ?? 0);
    await this.sync();
  }

  /** The database time at which a product-clock instant falls due. */
  toQueueTime(at: Date): Date {
    return new Date(at.getTime() - this.offsetMs);
  }

  /** "Now" by the product clock, in database time. */
  queueNow(): Date {
    return this.toQueueTime(this.clock.now());
  }

  /** Measures the product clock against the database's and moves waiting jobs if it jumped. Returns the move in ms. */
  async sync(): Promise<number> {
    if (!this.follows) return 0;
    const before = this.clock.now().getTime();
    const { rows } = await this.raw.query<{ db_ms: number }>(
      'SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS db_ms',
    );
    const after = this.clock.now().getTime();
    const measured = Math.round((before + after) / 2 - Number(rows[0]!.db_ms));
    const drift = measured - this.offsetMs;
    if (Math.abs(drift) <= TOLERANCE_MS) return 0;
    if (after - before > MAX_ROUND_TRIP_MS && Math.abs(drift) < LARGE_DRIFT_MS) return 0;

    const result = await this.raw.query<{ shift_ms: number | string | null; stored_ms: number | string }>(
      `WITH moved AS (
         UPDATE job_clock SET last_shift_ms = GREATEST($1::bigint - offset_ms, 0), offset_ms = $1::bigint
         WHERE id AND abs($1::bigint - offset_ms) > $2::bigint
         RETURNING last_shift_ms
       ), shifted AS (
         UPDATE ${BOSS_SCHEMA}.job j SET start_after = j.start_after - moved.last_shift_ms * interval '1 millisecond'
         FROM moved
         WHERE moved.last_shift_ms > 0 AND j.state < 'active'
         RETURNING 1
       )
       SELECT (SELECT last_shift_ms FROM moved) AS shift_ms,
              (SELECT offset_ms FROM job_clock WHERE id) AS stored_ms,
              (SELECT count(*) FROM shifted) AS shifted`,
      [measured, TOLERANCE_MS],
    );
    const row = result.rows[0]!;
    if (row.shift_ms === null) {
      // Another process already moved the queue to this offset.
      this.offsetMs = Number(row.stored_ms);
      return 0;
    }
    this.offsetMs = measured;
    return Number(row.shift_ms);
  }

  /**
   * Makes every waiting job of these queues that is due by the product clock fetchable right now, so a
   * drain never misses one by the few milliseconds the offset may be off.
   */
  async releaseDue(queues: string[]): Promise<void> {
    await this.raw.query(
      `UPDATE ${BOSS_SCHEMA}.job SET start_after = now() - interval '1 millisecond'
       WHERE name = ANY($1::text[]) AND state < 'active' AND start_after >= now() AND start_after <= $2::timestamptz`,
      [queues, this.queueNow().toISOString()],
    );
  }
}
