import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envelopeKeyId, TokenCipher } from '../../src/crypto/token-cipher.ts';
import type { Jobs } from '../../src/jobs/index.ts';
import { rotateTokenKeys, SEALED_COLUMNS } from '../../src/services/key-rotation.ts';
import type { Database } from '../../src/store/database.ts';
import { startTestApi, type TestApi } from '../helpers/app.ts';
import { backends } from '../helpers/databases.ts';
import { createCompany, insertGrant } from '../helpers/fixtures.ts';
import { startTestJobs } from '../helpers/product.ts';

describe.each(backends)('token encryption key rotation (R-11) on $name', (backend) => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  const sealedWithOld = new TokenCipher(oldKey);
  // The configuration during a rotation: the new key, and the old one in TOKEN_ENCRYPTION_PREVIOUS_KEYS.
  const rotating = new TokenCipher(newKey, [oldKey]);
  // The configuration after it: the old key removed.
  const newOnly = new TokenCipher(newKey);
  let database: Database;
  let api: TestApi;
  let jobs: Jobs;
  /** What each stored envelope must still open to: `<table>.<column>:<row id>` → plaintext. */
  const expected = new Map<string, string>();

  beforeAll(async () => {
    database = await backend.open();
    api = await startTestApi(database, { cipher: rotating });
  });
  afterAll(async () => {
    await jobs?.stop();
    await api.close();
    await database.close();
  });

  async function seedTokensSealedWithTheOldKey(): Promise<void> {
    const c = await createCompany(api, 'Rotation Co', `rotation-${backend.name}.test`);
    await insertGrant(api, { seatId: c.seat.id, contractId: c.contract.id, kind: 'email', provider: 'google', scopes: [] });
    const grant = await api.ctx.db.selectFrom('mailbox_authorizations').select('id').where('contract_id', '=', c.contract.id).executeTakeFirstOrThrow();
    const seal = (table: string, column: string, id: string, boundTo: string) => {
      const plaintext = `${column}-${randomUUID()}`;
      expected.set(`${table}.${column}:${id}`, plaintext);
      return sealedWithOld.seal(plaintext, boundTo);
    };
    await api.ctx.db
      .updateTable('mailbox_authorizations')
      .set({
        access_token_ciphertext: seal('mailbox_authorizations', 'access_token_ciphertext', grant.id, `${grant.id}:access`),
        refresh_token_ciphertext: seal('mailbox_authorizations', 'refresh_token_ciphertext', grant.id, `${grant.id}:refresh`),
      })
      .where('id', '=', grant.id)
      .execute();
    const now = api.clock.now();
    const stateId = randomUUID();
    await sql`
      INSERT INTO oauth_states (id, state_hash, contract_id, seat_id, user_id, kind, provider, scopes, code_verifier_ciphertext, created_at, expires_at)
      VALUES (${stateId}, ${randomUUID()}, ${c.contract.id}, ${c.seat.id}, ${c.recruiter.id}, 'email', 'google', '{}',
              ${seal('oauth_states', 'code_verifier_ciphertext', stateId, `oauth_state:${stateId}`)}, ${now}, ${now})`.execute(api.ctx.db);
    // More than one batch of revocations.
    for (let i = 0; i < 230; i++) {
      const id = randomUUID();
      const boundTo = `${randomUUID()}:refresh`;
      await sql`
        INSERT INTO token_revocations (id, contract_id, seat_id, provider, token_ciphertext, token_bound_to, reason, created_at, next_attempt_at)
        VALUES (${id}, ${c.contract.id}, ${c.seat.id}, 'google', ${seal('token_revocations', 'token_ciphertext', id, boundTo)}, ${boundTo}, 'disconnected', ${now}, ${now})`.execute(api.ctx.db);
    }
    const stopId = randomUUID();
    await sql`
      INSERT INTO push_stops (id, contract_id, authorization_id, provider, external_id, resource, access_token_ciphertext, refresh_token_ciphertext, reason, created_at, next_attempt_at)
      VALUES (${stopId}, ${c.contract.id}, ${grant.id}, 'google', 'watch-1', 'mailbox', ${seal('push_stops', 'access_token_ciphertext', stopId, `${grant.id}:access`)},
              ${seal('push_stops', 'refresh_token_ciphertext', stopId, `${grant.id}:refresh`)}, 'disconnected', ${now}, ${now})`.execute(api.ctx.db);
  }

  /** Every envelope of every sealed column, with what it is bound to. */
  async function storedEnvelopes(): Promise<Array<{ key: string; envelope: string; boundTo: string }>> {
    const out: Array<{ key: string; envelope: string; boundTo: string }> = [];
    const present = new Set(
      (await sql<{ c: string }>`SELECT table_name || '.' || column_name AS c FROM information_schema.columns WHERE table_schema = current_schema()`.execute(api.ctx.db)).rows.map((r) => r.c),
    );
    for (const spec of SEALED_COLUMNS) {
      if (!present.has(`${spec.table}.${spec.column}`)) continue;
      const rows = await sql<Record<string, string>>`
        SELECT id::text AS id, ${sql.ref(spec.column)} AS envelope${spec.reads ? sql`, ${sql.ref(spec.reads)}::text AS ${sql.ref(spec.reads)}` : sql``}
        FROM ${sql.table(spec.table)} WHERE ${sql.ref(spec.column)} IS NOT NULL`.execute(api.ctx.db);
      for (const row of rows.rows) out.push({ key: `${spec.table}.${spec.column}:${row.id}`, envelope: row.envelope!, boundTo: spec.boundTo(row) });
    }
    return out;
  }

  it('the job, run at start during a rotation, re-seals every stored token with the new key; then the old key can be removed', async () => {
    await seedTokensSealedWithTheOldKey();
    const before = await storedEnvelopes();
    expect(before.length).toBe(expected.size);
    expect(before.every((e) => rotating.needsRotation(e.envelope))).toBe(true);
    expect(() => newOnly.open(before[0]!.envelope, before[0]!.boundTo)).toThrow(/unknown key/);

    // The workers as every process registers them: with a previous key configured, a rotation run is enqueued at once.
    jobs = await startTestJobs(database, api);
    const schedules = await database.raw.query<{ name: string; every: string }>(`SELECT name, every FROM job_schedules WHERE name = 'tokens.rotate'`);
    expect(schedules.rows).toEqual([{ name: 'tokens.rotate', every: 'every 3600s' }]);
    expect(await jobs.drain()).toBeGreaterThanOrEqual(1);

    const after = await storedEnvelopes();
    expect(after.map((e) => e.key).sort()).toEqual([...expected.keys()].sort());
    for (const { key, envelope, boundTo } of after) {
      expect(envelopeKeyId(envelope), key).toBe(newOnly.currentKey);
      // Without the old key, every token still opens to what was stored, bound where it was.
      expect(newOnly.open(envelope, boundTo), key).toBe(expected.get(key));
    }
    // Nothing left to do: a second run changes nothing.
    expect(await rotateTokenKeys(api.ctx.db, rotating)).toEqual({ resealed: 0, unreadable: 0, remaining: 0, unknownKey: 0 });
  });

  it('an envelope that does not open is left as it is and reported, and tokens under an unconfigured key are counted', async () => {
    const grant = await api.ctx.db.selectFrom('mailbox_authorizations').select('id').executeTakeFirstOrThrow();
    // Sealed with the old key but for another row: authentication fails, so it must not be "re-sealed".
    const moved = sealedWithOld.seal('moved', 'elsewhere:access');
    const foreign = new TokenCipher(randomBytes(32)).seal('foreign', `${grant.id}:refresh`);
    await api.ctx.db.updateTable('mailbox_authorizations').set({ access_token_ciphertext: moved, refresh_token_ciphertext: foreign }).where('id', '=', grant.id).execute();
    const result = await rotateTokenKeys(api.ctx.db, rotating);
    expect(result).toEqual({ resealed: 0, unreadable: 1, remaining: 1, unknownKey: 1 });
    const row = await api.ctx.db.selectFrom('mailbox_authorizations').select(['access_token_ciphertext', 'refresh_token_ciphertext']).where('id', '=', grant.id).executeTakeFirstOrThrow();
    expect(row).toEqual({ access_token_ciphertext: moved, refresh_token_ciphertext: foreign });
  });
});
