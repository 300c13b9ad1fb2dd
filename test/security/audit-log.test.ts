import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/store/database.ts';
import { startTestApi, type TestApi } from '../helpers/app.ts';
import { backends } from '../helpers/databases.ts';
import { createCompany, insertGrant } from '../helpers/fixtures.ts';

describe.each(backends)('the audit log (R-07) on $name', (backend) => {
  let database: Database;
  let api: TestApi;
  beforeAll(async () => {
    database = await backend.open();
    api = await startTestApi(database);
  });
  afterAll(async () => {
    await api.close();
    await database.close();
  });

  const count = async () => (await sql<{ n: number }>`SELECT count(*)::int AS n FROM audit_log`.execute(api.ctx.db)).rows[0]!.n;

  it("refuses TRUNCATE, DELETE and UPDATE, even to the table's owner", async () => {
    await createCompany(api, 'Audit Co', 'audit.test');
    const before = await count();
    expect(before).toBeGreaterThan(0);
    await expect(sql`TRUNCATE audit_log`.execute(api.ctx.db)).rejects.toThrow(/append-only/);
    await expect(sql`TRUNCATE audit_log CASCADE`.execute(api.ctx.db)).rejects.toThrow(/append-only/);
    await expect(sql`DELETE FROM audit_log`.execute(api.ctx.db)).rejects.toThrow(/append-only/);
    await expect(sql`UPDATE audit_log SET action = 'nothing'`.execute(api.ctx.db)).rejects.toThrow(/append-only/);
    // Removing from details is refused too unless the suspension's redaction is on.
    await expect(sql`UPDATE audit_log SET details = '{}'`.execute(api.ctx.db)).rejects.toThrow(/append-only/);
    expect(await count()).toBe(before);
  });

  it('the redaction setting allows removing from details only: nothing added, rewritten or deleted', async () => {
    const c = await createCompany(api, 'Redact Co', 'redact.test');
    const attempt = (statement: ReturnType<typeof sql>) =>
      api.ctx.db.transaction().execute(async (trx) => {
        await sql`SELECT set_config('recruiter_sync.redact', 'on', true)`.execute(trx);
        await statement.execute(trx);
      });
    const where = sql`contract_id = ${c.contract.id} AND action = 'contract.created'`;
    await expect(attempt(sql`UPDATE audit_log SET details = details || '{"extra": 1}' WHERE ${where}`)).rejects.toThrow(/append-only/);
    await expect(attempt(sql`UPDATE audit_log SET details = '{"companyDomains": ["other.test"]}' WHERE ${where}`)).rejects.toThrow(/append-only/);
    await expect(attempt(sql`UPDATE audit_log SET action = 'x', details = '{}' WHERE ${where}`)).rejects.toThrow(/append-only/);
    await expect(attempt(sql`DELETE FROM audit_log WHERE ${where}`)).rejects.toThrow(/append-only/);
    await expect(attempt(sql`TRUNCATE audit_log`)).rejects.toThrow(/append-only/);
    await attempt(sql`UPDATE audit_log SET details = details - 'companyDomains' WHERE ${where}`);
    const row = await api.ctx.db.selectFrom('audit_log').select('details').where('contract_id', '=', c.contract.id).where('action', '=', 'contract.created').executeTakeFirstOrThrow();
    expect(row.details).toEqual({});
  });

  it('after a suspension no entry of the contract names a mailbox address (R-70), entries written before included', async () => {
    const c = await createCompany(api, 'Suspend Co', 'suspend-audit.test');
    const address = 'Rita.Mailbox@suspend-audit.test';
    await insertGrant(api, { seatId: c.seat.id, contractId: c.contract.id, kind: 'email', provider: 'microsoft', scopes: ['Mail.Read'], address });
    await api.ctx.db.updateTable('mailbox_authorizations').set({ aliases: ['rita.alias@suspend-audit.test'] }).where('contract_id', '=', c.contract.id).execute();
    // As entries were written before addresses were kept out of the log.
    const at = api.clock.now();
    const legacy = [
      { action: 'authorization.granted', details: { kind: 'email', provider: 'microsoft', address, scopes: ['Mail.Read'] } },
      { action: 'authorization.revocation_abandoned', details: { provider: 'microsoft', attempts: 8, error: `mailbox ${address.toLowerCase()} not found` } },
      { action: 'authorization.reauthorized', details: { kind: 'email', notes: ['kept', 'alias RITA.ALIAS@suspend-audit.test'] } },
    ];
    for (const entry of legacy) {
      await api.ctx.db.insertInto('audit_log').values({ contract_id: c.contract.id, at, actor_kind: 'system', actor_user_id: null, action: entry.action, target_type: 'seat', target_id: c.seat.id, details: JSON.stringify(entry.details) }).execute();
    }
    const other = await createCompany(api, 'Other Co', 'other-audit.test');
    await api.ctx.db.insertInto('audit_log').values({ contract_id: other.contract.id, at, actor_kind: 'system', actor_user_id: null, action: 'authorization.granted', target_type: 'seat', target_id: other.seat.id, details: JSON.stringify({ address: 'keep@other-audit.test' }) }).execute();

    const res = await api.call('PATCH', `/api/v1/contracts/${c.contract.id}`, { body: { status: 'suspended' } });
    expect(res.statusCode, res.body).toBe(200);

    const rows = await api.ctx.db.selectFrom('audit_log').select(['action', 'details']).where('contract_id', '=', c.contract.id).orderBy('id').execute();
    const text = JSON.stringify(rows).toLowerCase();
    expect(text).not.toContain('rita.mailbox@');
    expect(text).not.toContain('rita.alias@');
    expect(text).not.toMatch(/"address"/);
    // What is not an address stays.
    expect(rows.find((r) => r.action === 'authorization.granted')?.details).toEqual({ kind: 'email', provider: 'microsoft', scopes: ['Mail.Read'] });
    expect(rows.find((r) => r.action === 'authorization.revocation_abandoned')?.details).toEqual({ provider: 'microsoft', attempts: 8 });
    expect(rows.find((r) => r.action === 'authorization.reauthorized')?.details).toEqual({ kind: 'email', notes: ['kept'] });
    expect(rows.at(-1)?.action).toBe('contract.suspended');
    // Another contract's log is untouched, and the log is append-only again.
    const kept = await api.ctx.db.selectFrom('audit_log').select('details').where('contract_id', '=', other.contract.id).where('action', '=', 'authorization.granted').executeTakeFirstOrThrow();
    expect(kept.details).toEqual({ address: 'keep@other-audit.test' });
    await expect(sql`UPDATE audit_log SET details = '{}' WHERE contract_id = ${c.contract.id}`.execute(api.ctx.db)).rejects.toThrow(/append-only/);
  });

  // README "Database roles": the processes connect as a role that can neither remove entries nor drop the triggers.
  it.runIf(backend.name === 'postgres')('the application role of README cannot truncate, delete or rewrite entries, only redact under the setting', async () => {
    const c = await createCompany(api, 'Role Co', 'role-audit.test');
    const owner = new URL(database.connectionString!);
    await sql.raw(`
      DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'recruiter_sync_app') THEN CREATE ROLE recruiter_sync_app LOGIN PASSWORD 'app'; END IF;
      END $$;
      GRANT USAGE ON SCHEMA public TO recruiter_sync_app;
      GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO recruiter_sync_app;
      GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO recruiter_sync_app;
      REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM recruiter_sync_app;
      GRANT UPDATE (details) ON audit_log TO recruiter_sync_app;
    `).execute(api.ctx.db);
    const appUrl = new URL(owner);
    appUrl.username = 'recruiter_sync_app';
    appUrl.password = 'app';
    const app = new pg.Client({ connectionString: appUrl.toString() });
    await app.connect();
    try {
      const where = `contract_id = '${c.contract.id}' AND action = 'contract.created'`;
      for (const statement of ['TRUNCATE audit_log', `DELETE FROM audit_log WHERE ${where}`, `UPDATE audit_log SET action = 'x' WHERE ${where}`, 'ALTER TABLE audit_log DISABLE TRIGGER USER']) {
        await expect(app.query(statement), statement).rejects.toThrow(/permission denied|must be owner/);
      }
      await expect(app.query(`UPDATE audit_log SET details = '{}' WHERE ${where}`)).rejects.toThrow(/append-only/);
      await app.query('BEGIN');
      await app.query(`SELECT set_config('recruiter_sync.redact', 'on', true)`);
      await app.query(`UPDATE audit_log SET details = details - 'companyDomains' WHERE ${where}`);
      await app.query('COMMIT');
      expect((await app.query(`SELECT details FROM audit_log WHERE ${where}`)).rows).toEqual([{ details: {} }]);
    } finally {
      await app.end();
    }
  });
});
