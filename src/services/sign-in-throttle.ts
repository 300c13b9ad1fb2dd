import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { AppError } from '../errors.ts';
import type { DB } from '../store/schema.ts';

/**
 * Password guessing is slowed per account and per client address. Failures are counted in the database, so
 * every web process shares the counts. After `threshold` failures with no quiet `WINDOW_MS` between them, the
 * key is blocked for `BASE_BLOCK_MS`, doubled by every further failure up to `MAX_BLOCK_MS`; a blocked attempt is
 * refused with `rate_limited` before the password is even checked.
 *
 * The account key is the normalized email as typed, whether or not a user has it, so the answer never tells
 * which addresses exist. Addresses get a higher threshold: many people may sign in from behind one office proxy.
 */
export const SIGN_IN_THROTTLE = {
  accountThreshold: 5,
  addressThreshold: 20,
  WINDOW_MS: 15 * 60 * 1000,
  BASE_BLOCK_MS: 60 * 1000,
  MAX_BLOCK_MS: 60 * 60 * 1000,
} as const;

export interface ThrottleKeys {
  account: string;
  address: string;
}

const hashed = (kind: 'account' | 'address', value: string): string => `${kind}:${createHash('sha256').update(value).digest('base64url')}`;

export function throttleKeys(email: string, clientAddress: string): ThrottleKeys {
  return { account: hashed('account', email.trim().toLowerCase()), address: hashed('address', clientAddress) };
}

const thresholdOf = (key: string): number => (key.startsWith('account:') ? SIGN_IN_THROTTLE.accountThreshold : SIGN_IN_THROTTLE.addressThreshold);

/** Throws `rate_limited` (with the seconds to wait) while either key is blocked. */
export async function assertNotThrottled(db: Kysely<DB>, keys: ThrottleKeys, now: Date): Promise<void> {
  const rows = await db
    .selectFrom('sign_in_throttles')
    .select(['key', 'blocked_until'])
    .where('key', 'in', [keys.account, keys.address])
    .where('blocked_until', '>', now)
    .execute();
  if (rows.length === 0) return;
  const until = Math.max(...rows.map((r) => (r.blocked_until as Date).getTime()));
  throw rateLimited(until - now.getTime());
}

/** Counts a failed sign-in on both keys, and blocks a key that reached its threshold. */
export async function recordFailure(db: Kysely<DB>, keys: ThrottleKeys, now: Date): Promise<void> {
  const quietSince = new Date(now.getTime() - SIGN_IN_THROTTLE.WINDOW_MS);
  for (const key of [keys.account, keys.address]) {
    // One atomic statement per key: concurrent failures in several processes all count. The counter starts
    // again after a quiet window (measured from the later of the last failure and the end of the block).
    const row = await db
      .insertInto('sign_in_throttles')
      .values({ key, failures: 1, last_failure_at: now, blocked_until: null })
      .onConflict((oc) =>
        oc.column('key').doUpdateSet({
          failures: sql<number>`CASE WHEN GREATEST(sign_in_throttles.last_failure_at, COALESCE(sign_in_throttles.blocked_until, sign_in_throttles.last_failure_at)) < ${quietSince} THEN 1 ELSE sign_in_throttles.failures + 1 END`,
          last_failure_at: now,
        }),
      )
      .returning(['failures', 'blocked_until'])
      .executeTakeFirstOrThrow();
    const over = row.failures - thresholdOf(key);
    if (over < 0) continue;
    const blockMs = Math.min(SIGN_IN_THROTTLE.BASE_BLOCK_MS * 2 ** Math.min(over, 30), SIGN_IN_THROTTLE.MAX_BLOCK_MS);
    const until = new Date(now.getTime() + blockMs);
    await db
      .updateTable('sign_in_throttles')
      .set({ blocked_until: sql<Date>`GREATEST(COALESCE(blocked_until, ${until}), ${until})` })
      .where('key', '=', key)
      .execute();
  }
}

/** A successful sign-in forgives the account's failures; the address keeps its count (one known account must not reset it). */
export async function recordSuccess(db: Kysely<DB>, keys: ThrottleKeys): Promise<void> {
  await db.deleteFrom('sign_in_throttles').where('key', '=', keys.account).execute();
}

function rateLimited(waitMs: number): AppError {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  const minutes = Math.ceil(seconds / 60);
  return new AppError('rate_limited', `Too many failed sign-ins. Try again in ${seconds < 120 ? `${seconds} seconds` : `${minutes} minutes`}.`, { retryAfterSeconds: seconds });
}
