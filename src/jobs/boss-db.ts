import { CompiledQuery, type QueryResult } from 'kysely';
import type PgBoss from 'pg-boss';
import type { RawSql } from '../store/database.ts';

/** pg-boss's view of a database: one function that runs SQL and returns rows. */
export type BossDb = PgBoss.Db;

/** Postgres refuses several statements in one extended-protocol query with this message (42601). */
const MULTIPLE_COMMANDS = /cannot insert multiple commands into a prepared statement/i;

/**
 * pg-boss on the embedded database. Parameterised SQL goes through `query`. Parameterless SQL is either a
 * single statement whose rows pg-boss reads (the installed-version checks) or a multi-statement script
 * (schema creation, maintenance under an advisory lock): the script runs through `exec`, which speaks the
 * simple protocol. Postgres rejects a script in the extended protocol before running any of it, so trying
 * `query` first has no side effects.
 */
export function rawSqlBossDb(raw: RawSql): BossDb {
  return {
    async executeSql(text: string, values?: unknown[]) {
      if (values !== undefined) return raw.query(text, values);
      try {
        return await raw.query(text);
      } catch (error) {
        if (!(error instanceof Error) || !MULTIPLE_COMMANDS.test(error.message)) throw error;
      }
      try {
        await raw.exec(text);
      } catch (error) {
        // A script that failed inside its own BEGIN leaves the one shared embedded session in an aborted
        // transaction; end it so the next caller's statements run.
        await raw.exec('ROLLBACK').catch(() => {});
        throw error;
      }
      return { rows: [] };
    },
  };
}

/** What a Kysely instance or transaction offers for raw SQL. */
export interface QueryExecutor {
  executeQuery<R>(query: CompiledQuery<R>): Promise<QueryResult<R>>;
}

/** Runs pg-boss statements inside a Kysely transaction, so a job is enqueued atomically with our writes. */
export function transactionBossDb(trx: QueryExecutor): BossDb {
  return {
    async executeSql(text: string, values?: unknown[]) {
      const result = await trx.executeQuery(CompiledQuery.raw(text, values ?? []));
      return { rows: result.rows as unknown[] };
    },
  };
}
