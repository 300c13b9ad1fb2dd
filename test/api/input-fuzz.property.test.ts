import fc from 'fast-check';
import { sql } from 'kysely';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/store/database.ts';
import { startTestApi, type TestApi } from '../helpers/app.ts';
import { backends } from '../helpers/databases.ts';
import { createCompany, insertMessage } from '../helpers/fixtures.ts';

/**
 * Bad input never makes a 500 (SECURITY.md "API input ↔ storage"). Every route of /openapi.json gets, in each
 * of its string inputs (path parameters, query parameters, top-level body fields and string lists) in turn,
 * hostile strings: NUL and other control characters, CR/LF, lone surrogates, non-Latin-1 text, dates in the
 * year 0000 and huge strings. No answer may be a 5xx; a refusal must change nothing stored; and a string that
 * no field accepts (a control character, a year before 1970, longer than the field's maxLength) must be refused.
 */
type Schema = { type?: string | string[]; enum?: unknown[]; format?: string; maxLength?: number; items?: Schema; nullable?: boolean; anyOf?: Schema[] };
interface Operation {
  method: string;
  path: string;
  params: string[];
  query: Record<string, Schema>;
  body?: { properties: Record<string, Schema>; required: string[] };
}
interface Target {
  op: Operation;
  where: 'path' | 'query' | 'body';
  field: string;
  schema?: Schema;
}

const NASTY: string[] = [
  '\u0000',
  'Ada\u0000Admin',
  'line one\r\nX-Injected: yes',
  'bell\u0007 escape\u001b[31m del\u007f',
  '0000-01-01T00:00:00Z',
  '0000-01-01',
  '1969-12-31T23:59:59Z',
  'half \ud800 surrogate',
  'Zoë Ångström — 日本語 ✉ 🙂 \u202eevil',
  'x'.repeat(100_000),
];

// Multi-line text fields may hold line breaks and tabs (src/api/route.ts).
const MULTILINE = new Set(['bodyHtml', 'bodyText', 'description']);
// The Graph subscription handshake echoes `validationToken` as text/plain by design; it is never stored.
const ECHOED = new Set(['validationToken']);

const ISO_DATE = /^([+-]?\d{4,6})-\d{2}-\d{2}(?:[T ][\d:.]+(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

/** Whether no field could accept this string (so the request must be refused with a 4xx). */
function unacceptable(value: string, target: Target): boolean {
  if (ECHOED.has(target.field)) return false;
  // eslint-disable-next-line no-control-regex -- control characters are what is being tested
  const control = MULTILINE.has(target.field) ? /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/ : /[\u0000-\u001F\u007F]/;
  if (control.test(value)) return true;
  // In a URL a lone surrogate can only travel as invalid UTF-8, which arrives as U+FFFD: ordinary text.
  if (target.where === 'body' && /\p{Cs}/u.test(value)) return true;
  const date = ISO_DATE.exec(value.trim());
  if (date && Number(date[1]) < 1970) return true;
  const max = target.schema?.maxLength ?? target.schema?.items?.maxLength;
  if (max !== undefined && value.length > max) return true;
  // A redirect target is a same-origin path in printable ASCII.
  if (target.field === 'redirectAfter' && /[^\u0020-\u007E]/.test(value)) return true;
  return false;
}

/** Percent-encoding that also carries a lone surrogate (as the invalid UTF-8 a client could send). */
function encode(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return [...value].map((c) => (/\p{Cs}/u.test(c) ? '%ED%A0%80' : encodeURIComponent(c))).join('');
  }
}

const isStringish = (s: Schema | undefined): boolean =>
  !!s && (s.type === 'string' || (Array.isArray(s.type) && s.type.includes('string')) || (s.type === 'array' && s.items?.type === 'string'));

function baseline(name: string, s: Schema, company: Awaited<ReturnType<typeof createCompany>>): unknown {
  if (s.enum) return s.enum[0];
  if (s.anyOf) return baseline(name, s.anyOf[0]!, company);
  if (s.type === 'boolean') return true;
  if (s.type === 'number' || s.type === 'integer') return 1;
  if (s.type === 'array') return [];
  if (s.format === 'uuid') return name === 'userId' || name === 'toUserId' ? company.admin.id : company.candidate.id;
  if (s.format === 'date-time') return '2030-01-01T10:00:00Z';
  if (/email|^to$/i.test(name)) return 'fuzz@acme.test';
  return 'fuzz';
}

describe.each(backends)('hostile input on every route ($name)', (backend) => {
  let database: Database;
  let api: TestApi;
  let company: Awaited<ReturnType<typeof createCompany>>;
  let message: { messageId: string; threadId: string };
  let operations: Operation[];

  beforeAll(async () => {
    database = await backend.open();
    api = await startTestApi(database, { push: { pubsubAudience: 'https://product.test/webhooks/google/pubsub' } });
    company = await createCompany(api, 'Acme', 'acme.test');
    message = await insertMessage(api, { contractId: company.contract.id, seatId: company.seat.id, ownerUserId: company.recruiter.id, candidateId: company.candidate.id, visibility: 'contract' });
    const doc = (await api.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, { parameters?: Array<{ name: string; in: string; schema: Schema }>; requestBody?: { content: Record<string, { schema: { properties?: Record<string, Schema>; required?: string[] } }> } }>>;
    };
    operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => {
        const body = op.requestBody?.content['application/json']?.schema;
        return {
          method: method.toUpperCase(),
          path,
          params: [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!),
          query: Object.fromEntries((op.parameters ?? []).filter((p) => p.in === 'query').map((p) => [p.name, p.schema])),
          ...(body ? { body: { properties: body.properties ?? {}, required: body.required ?? [] } } : {}),
        };
      }),
    );
  }, 120_000);
  afterAll(async () => {
    await api?.close();
    await database?.close();
  });

  const targets = (): Target[] =>
    operations.flatMap((op) => [
      ...op.params.map((field) => ({ op, where: 'path' as const, field })),
      ...Object.entries(op.query).filter(([, s]) => isStringish(s)).map(([field, schema]) => ({ op, where: 'query' as const, field, schema })),
      ...Object.entries(op.body?.properties ?? {}).filter(([, s]) => isStringish(s)).map(([field, schema]) => ({ op, where: 'body' as const, field, schema })),
    ]);

  function realParam(op: Operation, name: string): string {
    if (name === 'kind') return 'email';
    if (name === 'provider') return 'google';
    if (name === 'candidateId') return company.candidate.id;
    if (name === 'attachmentId') return company.candidate.id;
    const prefix: [string, string][] = [
      ['/api/v1/contracts/', company.contract.id], ['/api/v1/users/', company.recruiter.id], ['/api/v1/seats/', company.seat.id],
      ['/api/v1/candidates/', company.candidate.id], ['/api/v1/projects/', company.project.id], ['/api/v1/messages/', message.messageId], ['/api/v1/threads/', message.threadId],
    ];
    return prefix.find(([p]) => op.path.startsWith(p))?.[1] ?? company.contract.id;
  }

  async function send(target: Target, value: string, actAs: 'system' | 'admin' | 'recruiter'): Promise<LightMyRequestResponse> {
    const { op } = target;
    const url = op.path.replace(/\{(\w+)\}/g, (_m, name: string) => (target.where === 'path' && name === target.field ? encode(value) : realParam(op, name)));
    const query = target.where === 'query' ? `?${target.field}=${encode(value)}` : '';
    let payload: unknown;
    if (op.body) {
      const body: Record<string, unknown> = {};
      for (const name of op.body.required) body[name] = baseline(name, op.body.properties[name]!, company);
      if (target.where === 'body') body[target.field] = target.schema?.type === 'array' ? [value] : value;
      payload = body;
    }
    return api.app.inject({
      method: op.method as 'GET',
      url: url + query,
      headers: {
        authorization: `Bearer ${api.systemToken}`,
        ...(actAs === 'system' ? {} : { 'x-act-as-user': actAs === 'admin' ? company.admin.id : company.recruiter.id }),
        ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
    });
  }

  /** What a refused request must leave alone: row counts and the names and states people can change (each act-as is audited, refused or not). */
  const fingerprint = async (): Promise<unknown> =>
    (
      await sql`SELECT
        (SELECT count(*) FROM contracts) AS contracts, (SELECT string_agg(name || status, ',' ORDER BY id) FROM contracts) AS contract_names,
        (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM seats) AS seats, (SELECT count(*) FROM seat_holders) AS holders,
        (SELECT string_agg(name, ',' ORDER BY id) FROM candidates) AS candidates, (SELECT count(*) FROM candidate_emails) AS candidate_emails,
        (SELECT count(*) FROM candidate_connections) AS connections, (SELECT string_agg(name || status, ',' ORDER BY id) FROM projects) AS projects,
        (SELECT count(*) FROM project_candidates) AS project_candidates, (SELECT count(*) FROM api_tokens) AS tokens, (SELECT count(*) FROM sessions) AS sessions,
        (SELECT count(*) FROM oauth_states) AS oauth_states, (SELECT count(*) FROM mail_messages) AS messages,
        (SELECT string_agg(visibility, ',' ORDER BY id) FROM mail_messages) AS visibility, (SELECT count(*) FROM audit_log WHERE action <> 'integration.acted_as') AS audit`.execute(api.ctx.db)
    ).rows[0];

  async function check(target: Target, value: string, actAs: 'system' | 'admin' | 'recruiter'): Promise<void> {
    const label = `${target.op.method} ${target.op.path} ${target.where}.${target.field} = ${JSON.stringify(value.slice(0, 60))} as ${actAs}`;
    const before = await fingerprint();
    const res = await send(target, value, actAs);
    expect(res.statusCode, `${label}: ${res.body.slice(0, 300)}`).toBeLessThan(500);
    if (unacceptable(value, target)) expect(res.statusCode, `${label} must be refused: ${res.body.slice(0, 300)}`).toBeGreaterThanOrEqual(400);
    if (res.statusCode >= 400) {
      expect(await fingerprint(), `${label} answered ${res.statusCode} but changed stored data`).toEqual(before);
      if (res.headers['content-type']?.toString().startsWith('application/json')) {
        const error = res.json().error;
        expect(typeof error?.code === 'string' && typeof error?.message === 'string', `${label}: ${res.body.slice(0, 300)}`).toBe(true);
        expect(error.message).not.toContain('\u0000');
      }
    }
  }

  it('finds the routes and their string inputs', () => {
    expect(operations.length).toBeGreaterThanOrEqual(40);
    const fields = targets().map((t) => `${t.op.method} ${t.op.path} ${t.where}.${t.field}`);
    for (const expected of ['POST /api/v1/session body.email', 'GET /api/v1/contracts/{id}/candidates query.q', 'POST /api/v1/contracts/{id}/users body.name', 'GET /api/v1/seats/{id}/sync/decisions query.address', 'POST /api/v1/seats/{id}/authorizations body.redirectAfter']) {
      expect(fields).toContain(expected);
    }
  });

  it('refuses every known-bad string in every string input with a 4xx that stores nothing', async () => {
    for (const target of targets()) {
      for (const value of NASTY) await check(target, value, target.op.path.startsWith('/api/v1/contracts') ? 'system' : 'admin');
    }
  }, 120_000);

  it('never answers random strings with a 5xx, and refuses without storing anything', async () => {
    const all = targets();
    const hostile = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      fc.constantFrom(...NASTY),
      fc.tuple(fc.constantFrom('', 'Rita ', 'a@b.test', '2030-01-01T00:00:00Z'), fc.constantFrom('\u0000', '\r\n', '\u0085', '\u2028', '\ud83d', '\ufeff', '%00', '../'), fc.string({ maxLength: 10 })).map((parts) => parts.join('')),
      fc.integer({ min: 0, max: 999 }).map((y) => `${String(y).padStart(4, '0')}-06-15T12:00:00Z`),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...all), hostile, fc.constantFrom('system' as const, 'admin' as const, 'recruiter' as const), async (target, value, actAs) => {
        await check(target, value, actAs);
      }),
      { numRuns: backend.name === 'pglite' ? 300 : 150, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31) },
    );
  }, 120_000);
});
