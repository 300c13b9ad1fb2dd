import type { PGlite, Transaction } from '@electric-sql/pglite';
import {
  CompiledQuery,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
} from 'kysely';

/**
 * Kysely dialect for the embedded PGlite database.
 *
 * PGlite is one Postgres session shared by the whole process. A bare `BEGIN` on it would capture every
 * other caller's statements into the transaction, so transactions run through `pg.transaction()`, which
 * makes every other query (ours and pg-boss's) wait until the transaction ends.
 */
export class PGliteDialect implements Dialect {
  constructor(private readonly pg: PGlite) {}
  createAdapter() {
    return new PostgresAdapter();
  }
  createDriver(): Driver {
    return new PGliteDriver(this.pg);
  }
  createIntrospector(db: Kysely<unknown>) {
    return new PostgresIntrospector(db);
  }
  createQueryCompiler() {
    return new PostgresQueryCompiler();
  }
}

class RollbackSignal extends Error {}

class PGliteConnection implements DatabaseConnection {
  private tx: Transaction | undefined;
  private finish: { commit(): void; rollback(): void } | undefined;
  private done: Promise<unknown> | undefined;

  constructor(private readonly pg: PGlite) {}

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const runner = this.tx ?? this.pg;
    if (compiled.parameters.length === 0) {
      // Parameterless SQL may be a script of several statements (migrations): the simple protocol runs it.
      const results = await runner.exec(compiled.sql);
      const last = results[results.length - 1];
      const affected = results.length === 1 ? last?.affectedRows : undefined;
      return {
        rows: (last?.rows ?? []) as R[],
        ...(affected !== undefined ? { numAffectedRows: BigInt(affected) } : {}),
      };
    }
    const result = await runner.query<R>(compiled.sql, compiled.parameters as unknown[]);
    const affected = result.affectedRows;
    return {
      rows: result.rows,
      ...(affected !== undefined ? { numAffectedRows: BigInt(affected) } : {}),
    };
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming queries are not supported on the embedded database');
  }

  async begin(): Promise<void> {
    if (this.tx) throw new Error('transaction already open on this connection');
    await new Promise<void>((resolveStarted, rejectStarted) => {
      this.done = this.pg
        .transaction(
          (tx) =>
            new Promise<void>((commit, rollback) => {
              this.tx = tx;
              this.finish = { commit: () => commit(), rollback: () => rollback(new RollbackSignal()) };
              resolveStarted();
            }),
        )
        .catch((error: unknown) => {
          rejectStarted(error);
          if (!(error instanceof RollbackSignal)) throw error;
        });
    });
  }

  async end(kind: 'commit' | 'rollback'): Promise<void> {
    const finish = this.finish;
    const done = this.done;
    this.tx = undefined;
    this.finish = undefined;
    this.done = undefined;
    if (!finish || !done) return;
    if (kind === 'commit') finish.commit();
    else finish.rollback();
    await done;
  }
}

class PGliteDriver implements Driver {
  constructor(private readonly pg: PGlite) {}
  async init(): Promise<void> {}
  async acquireConnection(): Promise<DatabaseConnection> {
    return new PGliteConnection(this.pg);
  }
  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as PGliteConnection).begin();
  }
  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as PGliteConnection).end('commit');
  }
  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as PGliteConnection).end('rollback');
  }
  async releaseConnection(): Promise<void> {}
  async destroy(): Promise<void> {}
}

export { CompiledQuery };
