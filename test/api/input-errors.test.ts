import Fastify from 'fastify';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorHandler } from '../../src/api/errors.ts';
import type { Database } from '../../src/store/database.ts';
import { backends } from '../helpers/databases.ts';

/**
 * The error handler's last line of defence: a database error that only bad input can cause answers 400 (or 409
 * for a duplicate created at the same moment), never 500, even where a route's own checks missed the input.
 */
describe.each(backends)('database errors caused by input on $name', (backend) => {
  let database: Database;
  const app = Fastify({ logger: false });
  beforeAll(async () => {
    database = await backend.open();
    app.setErrorHandler(errorHandler);
    const queries: Record<string, () => Promise<unknown>> = {
      nul: () => sql`SELECT ${'Ada\u0000Admin'}::text AS v`.execute(database.db),
      'year-zero': () => sql`SELECT ${'0000-01-01T00:00:00Z'}::timestamptz AS v`.execute(database.db),
      uuid: () => database.db.selectFrom('users').select('id').where('id', '=', 'not-a-uuid').execute(),
      duplicate: async () => {
        await sql`CREATE TEMP TABLE IF NOT EXISTS dup (k text PRIMARY KEY)`.execute(database.db);
        await sql`INSERT INTO dup VALUES ('x') ON CONFLICT DO NOTHING`.execute(database.db);
        await sql`INSERT INTO dup VALUES ('x')`.execute(database.db);
      },
      bug: () => sql`SELECT * FROM no_such_table`.execute(database.db),
    };
    app.get('/q/:name', async (request) => {
      await queries[(request.params as { name: string }).name]!();
      return { ok: true };
    });
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    await database?.close();
  });

  it.each([
    ['nul', 400, 'validation_failed'],
    ['year-zero', 400, 'validation_failed'],
    ['uuid', 400, 'validation_failed'],
    ['duplicate', 409, 'conflict'],
    // A mistake of ours stays a 500: only input-caused errors are mapped.
    ['bug', 500, 'internal'],
  ])('%s answers %i %s', async (name, status, code) => {
    const res = await app.inject({ method: 'GET', url: `/q/${name}` });
    expect(res.statusCode).toBe(status);
    expect(res.json().error.code).toBe(code);
    expect(res.json().error.message).not.toMatch(/R-\d|SQL|relation/);
    expect(res.json().error.message).not.toContain('\u0000');
  });
});
