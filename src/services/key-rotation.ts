import { sql, type Kysely } from 'kysely';
import type { TokenCipher } from '../crypto/token-cipher.ts';
import type { Jobs } from '../jobs/index.ts';
import type { Logger } from '../logging.ts';
import type { DB } from '../store/schema.ts';

/**
 * R-11 key rotation. Every column that holds a sealed token, with the associated data it was sealed with (see
 * TokenCipher). A new sealed column is a new line here, or a rotation would leave its tokens behind the old key.
 */
export const SEALED_COLUMNS: ReadonlyArray<{ table: string; column: string; boundTo: (row: Record<string, string>) => string; reads?: string }> = [
  { table: 'mailbox_authorizations', column: 'access_token_ciphertext', boundTo: (r) => `${r.id}:access` },
  { table: 'mailbox_authorizations', column: 'refresh_token_ciphertext', boundTo: (r) => `${r.id}:refresh` },
  { table: 'oauth_states', column: 'code_verifier_ciphertext', boundTo: (r) => `oauth_state:${r.id}` },
  { table: 'oauth_states', column: 'code_ciphertext', boundTo: (r) => `oauth_state:${r.id}:code` },
  { table: 'token_revocations', column: 'token_ciphertext', boundTo: (r) => r.token_bound_to!, reads: 'token_bound_to' },
  { table: 'push_stops', column: 'access_token_ciphertext', boundTo: (r) => `${r.authorization_id}:access`, reads: 'authorization_id' },
  { table: 'push_stops', column: 'refresh_token_ciphertext', boundTo: (r) => `${r.authorization_id}:refresh`, reads: 'authorization_id' },
];

const BATCH = 100;

export interface RotationResult {
  /** Envelopes sealed again with the current key. */
  resealed: number;
  /** Envelopes under a previous key that did not open (tampered or moved); they stay as they are. */
  unreadable: number;
  /** Envelopes still under a previous key after the run (rows locked by a refresh meanwhile: the next run takes them). */
  remaining: number;
  /** Envelopes under a key that is neither current nor previous: they cannot be opened by this configuration. */
  unknownKey: number;
}

/**
 * Re-seals, with the current key, every stored token sealed with a previous key: in batches of 100 rows, each
 * batch one short transaction holding row locks (rows a token refresh holds are skipped, not waited for), and the
 * new envelope written only if the row still holds the one that was read. When `remaining` and `unreadable` are 0,
 * no stored token needs a previous key any more and it can be removed from TOKEN_ENCRYPTION_PREVIOUS_KEYS.
 */
export async function rotateTokenKeys(db: Kysely<DB>, cipher: TokenCipher): Promise<RotationResult> {
  const result: RotationResult = { resealed: 0, unreadable: 0, remaining: 0, unknownKey: 0 };
  const previous = cipher.previousKeys;
  for (const spec of await presentColumns(db)) {
    const table = sql.table(spec.table);
    const column = sql.ref(spec.column);
    const keyId = sql`split_part(${column}, '.', 2)`;
    let after = '00000000-0000-0000-0000-000000000000';
    while (previous.length > 0) {
      const batch = await db.transaction().execute(async (trx) => {
        const rows = await sql<Record<string, string>>`
          SELECT id::text AS id, ${column} AS envelope${spec.reads ? sql`, ${sql.ref(spec.reads)}::text AS ${sql.ref(spec.reads)}` : sql``}
          FROM ${table}
          WHERE ${column} IS NOT NULL AND ${keyId} IN (${sql.join(previous)}) AND id > ${after}::uuid
          ORDER BY id
          LIMIT ${BATCH}
          FOR UPDATE SKIP LOCKED`.execute(trx);
        for (const row of rows.rows) {
          let resealed: string;
          try {
            resealed = cipher.reseal(row.envelope!, spec.boundTo(row));
          } catch {
            result.unreadable++;
            continue;
          }
          const updated = await sql`UPDATE ${table} SET ${column} = ${resealed} WHERE id = ${row.id}::uuid AND ${column} = ${row.envelope}`.execute(trx);
          result.resealed += Number(updated.numAffectedRows ?? 0n);
        }
        return rows.rows;
      });
      if (batch.length === 0) break;
      after = batch.at(-1)!.id!;
      if (batch.length < BATCH) break;
    }
    const left = await sql<{ previous: number; unknown: number }>`
      SELECT count(*) FILTER (WHERE ${keyId} IN (${sql.join(previous.length > 0 ? previous : [''])}))::int AS previous,
             count(*) FILTER (WHERE ${keyId} <> ${cipher.currentKey} AND ${keyId} NOT IN (${sql.join(previous.length > 0 ? previous : [''])}))::int AS unknown
      FROM ${table} WHERE ${column} IS NOT NULL`.execute(db);
    result.remaining += left.rows[0]?.previous ?? 0;
    result.unknownKey += left.rows[0]?.unknown ?? 0;
  }
  // Unreadable envelopes are also still under a previous key: `remaining` counts them once.
  return result;
}

/** The sealed columns this database has (a column added by a later migration is rotated once it exists). */
async function presentColumns(db: Kysely<DB>): Promise<typeof SEALED_COLUMNS> {
  const { rows } = await sql<{ table_name: string; column_name: string }>`
    SELECT table_name, column_name FROM information_schema.columns
    WHERE table_schema = current_schema() AND column_name LIKE '%ciphertext'`.execute(db);
  const present = new Set(rows.map((r) => `${r.table_name}.${r.column_name}`));
  return SEALED_COLUMNS.filter((c) => present.has(`${c.table}.${c.column}`));
}

/**
 * The `tokens.rotate` job: hourly, and once at start when previous keys are configured, so a rotation finishes
 * without anyone waiting for the schedule.
 */
export async function registerKeyRotation(jobs: Jobs, deps: { db: Kysely<DB>; cipher: TokenCipher }, logger: Pick<Logger, 'info' | 'warn'>): Promise<void> {
  jobs.work('tokens.rotate', async () => {
    if (deps.cipher.previousKeys.length === 0) return;
    const result = await rotateTokenKeys(deps.db, deps.cipher);
    if (result.remaining === 0) {
      logger.info({ ...result, key: deps.cipher.currentKey }, 'token key rotation done: no stored token needs a previous key; TOKEN_ENCRYPTION_PREVIOUS_KEYS can be removed');
    } else {
      logger.warn({ ...result, key: deps.cipher.currentKey }, 'token key rotation: some tokens still need a previous key; keep TOKEN_ENCRYPTION_PREVIOUS_KEYS');
    }
    if (result.unknownKey > 0) logger.warn({ unknownKey: result.unknownKey }, 'stored tokens sealed with a key that is not configured');
  });
  await jobs.schedule('tokens.rotate', { seconds: 3600 }, 'tokens.rotate', {});
  if (deps.cipher.previousKeys.length > 0) await jobs.send('tokens.rotate', {}, { singletonKey: 'tokens.rotate:start' });
}
