import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { compiledRead } from '../../src/store/compiled.ts';
import type { DB } from '../../src/store/schema.ts';

const db = new Kysely<DB>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (k) => new PostgresIntrospector(k),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
});

describe('compiledRead', () => {
  it('compiles once and binds each call’s values where the named values go, leaving the other parameters alone', () => {
    let builds = 0;
    const read = compiledRead(['candidateId', 'contractId'], (k, { candidateId, contractId }) => {
      builds++;
      return k.selectFrom('candidates').select('id').where('id', '=', candidateId).where('contract_id', '=', contractId).where('name', '!=', 'x').where('id', '!=', candidateId);
    });
    const first = read.statement(db, { candidateId: 'c1', contractId: 'k1' });
    const second = read.statement(db, { candidateId: 'c2', contractId: 'k2' });
    expect(builds).toBe(1);
    expect(second.sql).toBe(first.sql);
    expect(first.parameters).toEqual(['c1', 'k1', 'x', 'c1']);
    expect(second.parameters).toEqual(['c2', 'k2', 'x', 'c2']);
  });

  it('refuses a statement that writes a named value into its SQL text instead of binding it', () => {
    const read = compiledRead(['candidateId'], (k, { candidateId }) => k.selectFrom('candidates').select('id').where('id', '=', sql.lit(candidateId)));
    expect(() => read.statement(db, { candidateId: 'c1' })).toThrow(/must be passed as a parameter/);
  });
});
