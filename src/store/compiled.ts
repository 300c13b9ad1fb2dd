import { CompiledQuery, type Compilable, type Kysely } from 'kysely';
import type { DB } from './schema.ts';

/**
 * A read whose SQL is built and compiled once per database handle, then run with each call's values bound to
 * its parameters. Building and compiling a query of the visibility predicate's size costs a few hundred
 * microseconds of CPU — more than the database spends answering it — on a path read on every page view.
 *
 * `build` receives a placeholder for each named value and must pass each one as a query parameter (not as
 * literal SQL); that is checked when the statement is first compiled.
 */
export function compiledRead<Names extends string, Row>(names: readonly Names[], build: (db: Kysely<DB>, values: Record<Names, string>) => Compilable<Row>) {
  const placeholders = Object.fromEntries(names.map((name) => [name, `\u0000${name}\u0000`])) as Record<Names, string>;
  const byPlaceholder = new Map<unknown, Names>(names.map((name) => [placeholders[name], name]));
  const cache = new WeakMap<Kysely<DB>, { sql: string; parameters: readonly unknown[] }>();
  const compile = (db: Kysely<DB>) => {
    const compiled = build(db, placeholders).compile();
    for (const name of names) {
      if (!compiled.parameters.includes(placeholders[name]) || compiled.sql.includes(placeholders[name])) throw new Error(`compiledRead: "${name}" must be passed as a parameter`);
    }
    const template = { sql: compiled.sql, parameters: compiled.parameters };
    cache.set(db, template);
    return template;
  };
  const statement = (db: Kysely<DB>, values: Record<Names, string>): CompiledQuery<Row> => {
    const template = cache.get(db) ?? compile(db);
    const parameters = template.parameters.map((p) => {
      const name = byPlaceholder.get(p);
      return name === undefined ? p : values[name];
    });
    return CompiledQuery.raw(template.sql, parameters) as CompiledQuery<Row>;
  };
  const run = async (db: Kysely<DB>, values: Record<Names, string>): Promise<Row[]> => (await db.executeQuery(statement(db, values))).rows;
  /** `statement` gives the SQL and parameters a call sends (benchmarks explain it). */
  return Object.assign(run, { statement });
}
