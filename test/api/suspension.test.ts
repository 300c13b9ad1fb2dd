import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { createJobs, type Jobs } from '../../src/jobs/index.ts';
import { FIRST_PARTY_TABLES, registerSuspensionWorker, THIRD_PARTY_DATA_TABLES } from '../../src/services/suspension.ts';
import type { Database } from '../../src/store/database.ts';
import { decideBatch } from '../../src/sync/ingest/decide.ts';
import { ingestBatch, type IngestItem } from '../../src/sync/ingest/store.ts';
import { startTestApi, type TestApi } from '../helpers/app.ts';
import { backends } from '../helpers/databases.ts';
import { decideContext, ingestCompany, mail, type IngestCompany } from '../sync/ingest/setup.ts';

describe.each(backends)('contract suspension (R-70) on $name', (backend) => {
  let database: Database;
  let api: TestApi;
  const ref: { jobs?: Jobs } = {};
  beforeAll(async () => {
    database = await backend.open();
    // The API sends to the job queue; jobs run only when the test drains them (web role).
    api = await startTestApi(database, { drain: () => ref.jobs!.drain(), jobs: { send: (...args) => ref.jobs!.send(...args) } });
    // Only the suspension's worker: the fixtures' other jobs (backfills) would call providers this test has none of.
    ref.jobs = createJobs({ database, clock: api.clock });
    await ref.jobs.start({ role: 'web' });
    await registerSuspensionWorker(ref.jobs, { ...api.ctx, providers: api.providers, cipher: api.cipher, publicUrl: api.publicUrl });
  });
  afterAll(async () => {
    await api.close();
    await ref.jobs?.stop();
    await database.close();
  });

  /** Every table with a contract_id or a seat_id column (each seat_id table also has contract_id; checked). */
  const tablesWithContractData = async () => {
    const rows = (
      await sql<{ table_name: string; columns: string }>`
        SELECT table_name, string_agg(column_name, ',' ORDER BY column_name) AS columns FROM information_schema.columns
        WHERE table_schema = 'public' AND column_name IN ('contract_id', 'seat_id', 'owner_seat_id')
        GROUP BY table_name ORDER BY table_name`.execute(api.ctx.db)
    ).rows;
    for (const r of rows) expect(r.columns.split(','), `${r.table_name} has a seat but no contract column`).toContain('contract_id');
    return rows.map((r) => r.table_name);
  };
  const rowsOf = async (table: string, contractId: string) =>
    (await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.table(table)} WHERE contract_id = ${contractId}`.execute(api.ctx.db)).rows[0]!.n;

  it('classifies every table of the schema that holds contract data (found by introspection)', async () => {
    const third = THIRD_PARTY_DATA_TABLES.map((t) => t.table);
    for (const table of await tablesWithContractData()) {
      expect(third.includes(table) !== FIRST_PARTY_TABLES.includes(table), `${table} must be listed exactly once`).toBe(true);
    }
  });

  /** A company with synced mail (threads, messages, an attachment, decisions), a cursor and a queued revocation. */
  async function companyWithMail(name: string, domain: string): Promise<IngestCompany> {
    const co = await ingestCompany(api, name, domain);
    const now = api.clock.now();
    const specs = [
      { id: 'm-1', thread: 'T1', from: 'carla@mail.example', to: `rita@${domain}`, date: new Date(now.getTime() - 86_400_000), attachments: [{ filename: 'cv.pdf', content: Buffer.alloc(64, 1), contentType: 'application/pdf' }] },
      { id: 'm-2', thread: 'T1', from: `rita@${domain}`, to: 'carla@mail.example', date: new Date(now.getTime() - 3_600_000), isSent: true, inReplyTo: '<m-1@msg.example>' },
      { id: 'm-3', from: 'news@letters.example', to: `rita@${domain}`, date: now },
    ];
    const mails = await Promise.all(specs.map(mail));
    const decisions = await decideBatch(api.ctx.db, co.mailbox.seatId, mails.map((m) => m.facts), await decideContext(api, co.mailbox, now));
    const items: IngestItem[] = mails.map((m, i) => ({ facts: m.facts, decision: decisions[i]!, ...(decisions[i]!.ingested ? { raw: m.raw } : {}) }));
    await ingestBatch(api.ctx.db, co.mailbox, items, now);
    const grant = await api.ctx.db.selectFrom('mailbox_authorizations').select('id').where('seat_id', '=', co.seat.id).executeTakeFirstOrThrow();
    await api.ctx.db
      .insertInto('sync_states')
      .values({ authorization_id: grant.id, contract_id: co.contract.id, seat_id: co.seat.id, phase: 'incremental', cursor: JSON.stringify({ historyId: '42' }), checkpoint: null, window_start: null, messages_estimated: null, historical_started_at: null, historical_completed_at: null, last_synced_at: now, last_error: null, last_error_kind: null, updated_at: now, run_lease_id: null, run_lease_until: null, run_lease_kind: null, cursor_provider: 'google', cursor_address: `rita@${domain}`, cursor_since: now })
      .execute();
    await api.ctx.db
      .insertInto('token_revocations')
      .values({ id: crypto.randomUUID(), contract_id: co.contract.id, seat_id: co.seat.id, provider: 'google', token_ciphertext: 'v1:k1:ciphertext', token_bound_to: 'x:refresh', reason: 'deauthorized', last_error: null, created_at: now, next_attempt_at: now })
      .execute();
    return co;
  }

  it('answers at once with a queued receipt; the job deletes every third-party row, the receipt counts them, reactivation waits for it', async () => {
    const a = await companyWithMail('Suspended Co', 'suspended.test');
    const b = await companyWithMail('Other Co', 'other.test');
    // Suspension erases every synced email: the host system's call (system token), never the company's.
    for (const who of [{ token: a.contractToken, actAs: a.admin.id }, { token: a.contractToken }, { actAs: a.admin.id }]) {
      const refused = await api.call('PATCH', `/api/v1/contracts/${a.contract.id}`, { ...who, body: { status: 'suspended' } });
      expect([refused.statusCode, refused.json().error.code]).toEqual([403, 'forbidden']);
    }
    const before: Record<string, number> = {};
    for (const { table, kind } of THIRD_PARTY_DATA_TABLES) before[kind] = (before[kind] ?? 0) + (await rowsOf(table, a.contract.id));
    expect(before).toMatchObject({ messages: 2, threads: 1, attachments: 1, decisions: 3, cursors: 1, tokens: 1, authorizations: 1 });

    // The quota budget of each mailbox is keyed by its address.
    for (const address of ['rita@suspended.test', 'rita@other.test']) {
      await api.ctx.db.insertInto('quota_budgets').values({ provider: 'google', address, slots: '{}', leases: '[]', updated_at: api.clock.now() }).execute();
    }
    const res = await api.call('PATCH', `/api/v1/contracts/${a.contract.id}`, { body: { status: 'suspended' } });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.status).toBe('suspended');
    expect(body.deletionReceipt).toMatchObject({ contractId: a.contract.id, status: 'queued', revocations: null, finishedAt: null });
    expect(Object.values(body.deletionReceipt.counts).every((n) => n === 0)).toBe(true);
    expect(Object.keys(body.deletionReceipt.counts).sort()).toEqual(Object.keys(before).sort());
    const receiptUrl = `/api/v1/contracts/${a.contract.id}/deletion-receipts/${body.deletionReceipt.id}`;
    // Answered before any deletion: the data is still there, and nothing new can be stored meanwhile.
    expect(await rowsOf('mail_messages', a.contract.id)).toBe(2);
    expect((await a.json('GET', receiptUrl)).status).toBe('queued');
    // Suspending again answers with the same receipt.
    expect((await a.json('PATCH', `/api/v1/contracts/${a.contract.id}`, { status: 'suspended' })).deletionReceipt.id).toBe(body.deletionReceipt.id);
    // Nothing goes out while the deletion is pending either: sending refuses.
    const send = await api.call('POST', `/api/v1/candidates/${a.candidate.id}/emails`, { token: a.contractToken, actAs: a.recruiter.id, body: { subject: 'Hello', bodyText: 'Hi' } });
    expect([send.statusCode, send.json().error.code]).toEqual([409, 'contract_suspended']);
    // Reactivation starts from nothing: refused until the deletion is done.
    const early = await api.call('PATCH', `/api/v1/contracts/${a.contract.id}`, { body: { status: 'active' } });
    expect([early.statusCode, early.json().error.code]).toEqual([409, 'conflict']);
    expect(early.json().error.message).not.toMatch(/R-\d/);

    await ref.jobs!.drain();
    const receipt = await a.json('GET', receiptUrl);
    expect(receipt).toMatchObject({ id: body.deletionReceipt.id, status: 'done', counts: before });
    expect(receipt.finishedAt).not.toBeNull();
    // The fixture's tokens are not real ciphertext: revoking them fails, and they are deleted all the same.
    expect(receipt.revocations).toEqual({ revoked: 0, unsupported: 0, failed: 2 });
    // The company's admins can read it too; another company cannot see it.
    expect((await api.call('GET', receiptUrl, { token: a.contractToken, actAs: a.admin.id })).statusCode).toBe(200);
    expect((await api.call('GET', receiptUrl, { token: b.contractToken, actAs: b.admin.id })).json().error.code).toBe('not_found');
    expect((await api.call('GET', receiptUrl, { token: a.contractToken, actAs: a.recruiter.id })).json().error.code).toBe('forbidden');

    const third = THIRD_PARTY_DATA_TABLES.map((t) => t.table);
    for (const table of await tablesWithContractData()) {
      if (third.includes(table)) expect(await rowsOf(table, a.contract.id), table).toBe(0);
    }
    // The other company keeps everything.
    expect(await rowsOf('mail_messages', b.contract.id)).toBe(2);
    expect(await rowsOf('mailbox_authorizations', b.contract.id)).toBe(1);
    expect((await api.ctx.db.selectFrom('quota_budgets').select('address').execute()).map((q) => q.address)).toEqual(['rita@other.test']);
    const suspendedEntries = () => api.ctx.db.selectFrom('audit_log').select(['actor_kind', 'actor_token_id', 'details']).where('contract_id', '=', a.contract.id).where('action', '=', 'contract.suspended').execute();
    const [entry, ...more] = await suspendedEntries();
    expect(more).toEqual([]);
    // The system token that asked for the suspension, with the final counts.
    expect(entry).toMatchObject({ actor_kind: 'integration', details: { deletionReceipt: { id: body.deletionReceipt.id, status: 'done', counts: before } } });
    expect(entry!.actor_token_id).not.toBeNull();
    // A rerun of the job (a pg-boss retry) finds nothing to do and writes no second entry.
    await ref.jobs!.send('contract.suspend', { contractId: a.contract.id });
    await ref.jobs!.drain();
    expect(await suspendedEntries()).toHaveLength(1);

    // Suspended: settings cannot change and mailboxes cannot connect until reactivated.
    const settings = await api.call('PUT', `/api/v1/contracts/${a.contract.id}/settings`, { body: { emailAccess: 'view' } });
    expect(settings.json().error.code).toBe('contract_suspended');
    for (const who of [{ token: a.contractToken, actAs: a.admin.id }, { token: a.contractToken }]) {
      const refused = await api.call('PATCH', `/api/v1/contracts/${a.contract.id}`, { ...who, body: { status: 'active' } });
      expect([refused.statusCode, refused.json().error.code]).toEqual([403, 'forbidden']);
    }
    const reactivated = await a.json('PATCH', `/api/v1/contracts/${a.contract.id}`, { status: 'active' });
    expect(reactivated.status).toBe('active');
  });

  it('an ingest batch after the suspension began writes nothing, though the deletion has not run yet', async () => {
    const c = await ingestCompany(api, 'Late Co', 'late.test');
    await api.call('PATCH', `/api/v1/contracts/${c.contract.id}`, { body: { status: 'suspended' } });
    const now = api.clock.now();
    const m = await mail({ id: 'late-1', from: 'carla@mail.example', to: 'rita@late.test', date: now });
    const [decision] = await decideBatch(api.ctx.db, c.mailbox.seatId, [m.facts], await decideContext(api, c.mailbox, now));
    await expect(ingestBatch(api.ctx.db, c.mailbox, [{ facts: m.facts, decision: decision!, raw: m.raw }], now)).rejects.toMatchObject({ name: 'ContractSuspendedError' });
    expect(await rowsOf('mail_messages', c.contract.id)).toBe(0);
    expect(await rowsOf('ingestion_decisions', c.contract.id)).toBe(0);
    await ref.jobs!.drain();
  });
});
