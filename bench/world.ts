/**
 * What the sync benchmarks share: the product's API on a database, the simulators, a contract built through the
 * public API from a generated mailbox (candidates, projects, settings) whose seat is connected through the full
 * OAuth round trip, and scratch databases on the Postgres server.
 */
import pg from 'pg';
import { generateMailbox, loadIntoSimulator, oracle, type GeneratedMailbox, type MailboxSize } from '../sim/generator/index.ts';
import { startSimulators } from '../sim/server.ts';
import type { SimState } from '../sim/core/state.ts';
import type { TokenCipher } from '../src/crypto/token-cipher.ts';
import { createMailProviders } from '../src/providers/mail.ts';
import type { SyncDeps } from '../src/sync/engine.ts';
import { openDatabase, type Database } from '../src/store/database.ts';
import { migrateToLatest } from '../src/store/migrate.ts';
import { startTestApi, type TestApi } from '../test/helpers/app.ts';
import { createCompany } from '../test/helpers/fixtures.ts';
import { scratchDatabaseOn } from '../test/helpers/databases.ts';
export { countingDb } from '../test/helpers/statements.ts';

export type Provider = 'google' | 'microsoft';
export type Report = (name: string, value: number, unit: string, note?: string) => void;
export interface BenchContext {
  full: boolean;
  report: Report;
}

export type Sim = Awaited<ReturnType<typeof startSimulators>>;

/** The simulators on a free port with their clock frozen at `now` (callers may let it run: `state.clock.setFrozen(false)`). */
export async function startSim(now: Date): Promise<Sim & { control: Control }> {
  const sim = await startSimulators({ port: 0, host: '127.0.0.1', now });
  return { ...sim, control: controlOf(sim.url) };
}

export type Control = (method: string, path: string, body?: unknown) => Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export function controlOf(url: string): Control {
  return async (method, path, body) => {
    const res = await fetch(`${url}${path}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
}

/** The next whole minute after now, plus one: the product's clock starts there and only moves forward. */
export const benchNow = (): Date => new Date(Math.ceil(Date.now() / 60_000) * 60_000 + 60_000);

export interface World {
  api: TestApi;
  deps: SyncDeps;
  close(): Promise<void>;
}

/**
 * The product's API and sync dependencies on `database`, against the simulators at `simUrl`, its clock moved to
 * `now` (or left on the system's time).
 */
export async function startWorld(database: Database, simUrl: string, now?: Date, options: { cipher?: TokenCipher } = {}): Promise<World> {
  const api = await startTestApi(database, { simulatorUrl: simUrl, ...(options.cipher ? { cipher: options.cipher } : {}) });
  // A later world of the same run may start after `now`: its clock stays where it is (it only moves forward).
  if (now && now.getTime() > api.clock.now().getTime()) api.clock.set(now);
  const deps: SyncDeps = {
    ...api.ctx,
    providers: api.providers,
    cipher: api.cipher,
    publicUrl: api.publicUrl,
    mail: createMailProviders({ google: { baseUrl: `${simUrl}/google` }, microsoft: { baseUrl: `${simUrl}/microsoft` }, now: () => api.clock.now() }),
  };
  return { api, deps, close: () => api.close() };
}

let companies = 0;

export interface Seat {
  contractId: string;
  contractToken: string;
  seatId: string;
  userId: string;
  address: string;
  authorizationId: string;
  json: (method: string, url: string, body?: unknown) => Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** A mailbox generated for a new company's recruiter (the owner's address is the recruiter's). */
export function companyMailbox(tag: string, size: MailboxSize, now: Date, options: { candidateShare?: number; seed?: string } = {}) {
  const domain = `${tag}-${++companies}.test`;
  const address = `rita@${domain}`;
  const generated = generateMailbox({ seed: options.seed ?? tag, owner: { address, name: 'Rita Recruiter' }, companyDomain: domain, now, size, ...(options.candidateShare !== undefined ? { candidateShare: options.candidateShare } : {}) });
  return { domain, address, generated };
}

/**
 * The contract of a generated mailbox built through the API (candidates with their emails, discovery setting and
 * the recruiter's degree; projects active or closed), the provider chosen, the seat connected by OAuth. The
 * mailbox must already be in the simulator (`loadMailbox`).
 */
export async function connectCompany(world: World, control: Control, provider: Provider, mailbox: { domain: string; address: string; generated: GeneratedMailbox }): Promise<Seat> {
  const { api } = world;
  const c = await createCompany(api, `Bench ${mailbox.domain}`, mailbox.domain);
  await control('POST', '/_sim/tenants', { provider, domain: mailbox.domain });
  const candidateIds = new Map<string, string>();
  const candidates = mailbox.generated.candidates;
  // A few requests at a time, as a host system importing its candidates would send them.
  for (let i = 0; i < candidates.length; i += 8) {
    await Promise.all(
      candidates.slice(i, i + 8).map(async (cand) => {
        const created = await c.json('POST', `/api/v1/contracts/${c.contract.id}/candidates`, { name: cand.name, emails: cand.emails, emailDiscovery: cand.discovery });
        candidateIds.set(cand.key, created.id);
        if (cand.degree !== null) await c.json('PUT', `/api/v1/candidates/${created.id}/connections`, { userId: c.recruiter.id, degree: cand.degree });
      }),
    );
  }
  for (const project of mailbox.generated.projects) {
    const created = await c.json('POST', `/api/v1/contracts/${c.contract.id}/projects`, { name: project.name });
    for (let i = 0; i < project.candidateKeys.length; i += 8) {
      await Promise.all(project.candidateKeys.slice(i, i + 8).map((key) => c.json('POST', `/api/v1/projects/${created.id}/candidates`, { candidateId: candidateIds.get(key) })));
    }
    if (project.status === 'closed') await c.json('PATCH', `/api/v1/projects/${created.id}`, { status: 'closed' });
  }
  await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: provider, emailAccess: 'view' });
  const authorizationId = await connectSeat(api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, address: mailbox.address });
  return { contractId: c.contract.id, contractToken: c.contractToken, seatId: c.seat.id, userId: c.recruiter.id, address: mailbox.address, authorizationId, json: c.json };
}

/** The OAuth round trip for a seat's email grant: our authorization URL → the simulator's auto-consent → our callback. */
export async function connectSeat(api: TestApi, p: { seatId: string; userId: string; token: string; address: string }): Promise<string> {
  const start = await api.call('POST', `/api/v1/seats/${p.seatId}/authorizations`, { token: p.token, actAs: p.userId, body: { kind: 'email', redirectAfter: '/settings/email' } });
  if (start.statusCode !== 201) throw new Error(`authorization start → ${start.statusCode} ${start.body}`);
  const consent = new URL(start.json().authorizationUrl);
  consent.searchParams.set('auto_consent', '1');
  consent.searchParams.set('login_hint', p.address);
  const answer = await fetch(consent, { redirect: 'manual' });
  const location = answer.headers.get('location');
  if (!location) throw new Error(`consent → ${answer.status} ${await answer.text()}`);
  const redirect = new URL(location);
  const callback = await api.app.inject({ method: 'GET', url: `${redirect.pathname}${redirect.search}` });
  if (callback.statusCode !== 303) throw new Error(`callback → ${callback.statusCode} ${callback.body}`);
  // A flow an integration started is finished by the same token acting as the same user.
  const flow = new URL(callback.headers.location as string, api.publicUrl).searchParams.get('flow');
  if (!flow) throw new Error(`callback → ${callback.headers.location}`);
  const done = await api.call('POST', `/api/v1/seats/${p.seatId}/authorizations/complete`, { token: p.token, actAs: p.userId, body: { flow } });
  if (done.statusCode !== 200 || done.json().authorization !== 'connected') throw new Error(`completion → ${done.statusCode} ${done.body}`);
  const grant = await api.ctx.db.selectFrom('mailbox_authorizations').select(['id', 'state']).where('seat_id', '=', p.seatId).where('kind', '=', 'email').executeTakeFirstOrThrow();
  if (grant.state !== 'authorized') throw new Error(`grant is ${grant.state}`);
  return grant.id;
}

export async function loadMailbox(state: Pick<SimState, 'mail'>, provider: Provider, mailbox: { address: string; generated: GeneratedMailbox }) {
  return loadIntoSimulator(state, { provider, address: mailbox.address }, mailbox.generated);
}

/** Generated message keys the oracle expects stored after the seat's historical sync. */
export async function oracleIngested(world: World, seat: Seat, generated: GeneratedMailbox): Promise<Set<string>> {
  const db = world.api.ctx.db;
  const grant = await db.selectFrom('mailbox_authorizations').selectAll().where('id', '=', seat.authorizationId).executeTakeFirstOrThrow();
  const state = await db.selectFrom('sync_states').select('historical_started_at').where('authorization_id', '=', seat.authorizationId).executeTakeFirst();
  const expected = oracle(generated, { authorizedAt: grant.last_authorized_at, firstAuthorizedAt: grant.first_authorized_at, syncAt: state?.historical_started_at ?? world.api.clock.now() });
  return new Set(generated.messages.filter((m) => expected.get(m.key)?.ingested).map((m) => m.key));
}

// ------------------------------------------------------------------------------------------ databases

export const serverUrl = process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';

/** Whether the Postgres server answers; the reason when it does not. */
export async function postgresReachable(): Promise<{ ok: true } | { ok: false; reason: string }> {
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return { ok: true };
  } catch (error) {
    return { ok: false, reason: `Postgres at ${new URL(serverUrl).host} unreachable: ${(error as Error).message}` };
  } finally {
    await client.end().catch(() => {});
  }
}

/** A new empty database on the server (dropped by `drop`), like the storage tests use. */
export const scratchDatabase = (): Promise<{ url: string; name: string; drop(): Promise<void> }> => scratchDatabaseOn(serverUrl, 'rs_bench');

/** A migrated database: embedded PGlite in memory, or a scratch database on the server. */
export async function openBenchDatabase(backend: 'pglite' | 'postgres', poolSize = 5): Promise<Database> {
  if (backend === 'pglite') {
    const database = await openDatabase({ memory: true });
    await migrateToLatest(database);
    return database;
  }
  const scratch = await scratchDatabase();
  const database = await openDatabase({ url: scratch.url, poolSize });
  await migrateToLatest(database);
  return {
    ...database,
    close: async () => {
      await database.close();
      await scratch.drop();
    },
  };
}

export const seconds = (ms: number) => ms / 1000;

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}
