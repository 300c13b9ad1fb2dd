import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { FIRST_PARTY_TABLES, THIRD_PARTY_DATA_TABLES } from '../../src/services/suspension.ts';
import type { Database } from '../../src/store/database.ts';
import { startTestApi, type TestApi } from '../helpers/app.ts';
import { backends } from '../helpers/databases.ts';
import { createCompany, insertGrant } from '../helpers/fixtures.ts';

describe.each(backends)('contract suspension (R-70) on $name', (backend) => {
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

  const tablesWithContractId = async () =>
    (
      await sql<{ table_name: string }>`
        SELECT table_name FROM information_schema.columns
        WHERE table_schema = 'public' AND column_name = 'contract_id' ORDER BY table_name`.execute(api.ctx.db)
    ).rows.map((r) => r.table_name);

  it('classifies every table of the schema that holds contract data (found by introspection)', async () => {
    const third = THIRD_PARTY_DATA_TABLES.map((t) => t.table);
    for (const table of await tablesWithContractId()) {
      expect(third.includes(table) !== FIRST_PARTY_TABLES.includes(table), `${table} must be listed exactly once`).toBe(true);
    }
  });

  it('deletes every third-party row of the suspended contract, keeps the other contract, and audits a receipt', async () => {
    const a = await createCompany(api, 'Suspended Co', 'suspended.test');
    const b = await createCompany(api, 'Other Co', 'other.test');
    for (const c of [a, b]) await insertGrant(api, { seatId: c.seat.id, contractId: c.contract.id, kind: 'email', provider: 'google', scopes: [] });
    // Suspension erases every synced email: the host system's call (system token), never the company's.
    for (const who of [{ token: a.contractToken, actAs: a.admin.id }, { token: a.contractToken }, { actAs: a.admin.id }]) {
      const refused = await api.call('PATCH', `/api/v1/contracts/${a.contract.id}`, { ...who, body: { status: 'suspended' } });
      expect([refused.statusCode, refused.json().error.code]).toEqual([403, 'forbidden']);
    }
    expect((await a.json('GET', `/api/v1/contracts/${a.contract.id}`)).status).toBe('active');
    const res = await api.call('PATCH', `/api/v1/contracts/${a.contract.id}`, { body: { status: 'suspended' } });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.status).toBe('suspended');
    expect(body.deletionReceipt.counts.authorizations).toBe(1);
    for (const { table } of THIRD_PARTY_DATA_TABLES) {
      const left = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.table(table)} WHERE contract_id = ${a.contract.id}`.execute(api.ctx.db);
      expect(left.rows[0]?.n, table).toBe(0);
    }
    const other = await api.ctx.db.selectFrom('mailbox_authorizations').select('id').where('contract_id', '=', b.contract.id).execute();
    expect(other).toHaveLength(1);
    const audit = await a.json('GET', `/api/v1/contracts/${a.contract.id}/audit?limit=1`);
    expect(audit.entries[0]).toMatchObject({ action: 'contract.suspended', details: { deletionReceipt: { counts: { authorizations: 1 } } } });
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
});
