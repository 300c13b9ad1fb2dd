import { expect } from 'vitest';
import { generateMailbox, loadIntoSimulator, oracle, type GeneratedMailbox, type MailboxSize } from '../../sim/generator/index.ts';
import { startSimulators } from '../../sim/server.ts';
import pino from 'pino';
import type { TokenCipher } from '../../src/crypto/token-cipher.ts';
import { createJobs, type Jobs } from '../../src/jobs/index.ts';
import { createMailProviders } from '../../src/providers/mail.ts';
import { registerWorkers } from '../../src/workers.ts';
import type { SyncDeps } from '../../src/sync/engine.ts';
import type { Database } from '../../src/store/database.ts';
import { startTestApi } from '../helpers/app.ts';
import { connectMailbox } from '../helpers/connect.ts';
import { createCompany } from '../helpers/fixtures.ts';

export type Provider = 'google' | 'microsoft';
export type Sim = Awaited<ReturnType<typeof startSimulators>>;

/**
 * The product and both simulators on one instant (the simulators' clock frozen there, the product's running from it).
 * With `jobs`, the job queue runs every worker through `drain()` (as `POST /_test/jobs/drain` does) and the API
 * enqueues what it enqueues in production (the sync at authorization, backfills on pipeline changes).
 */
export async function startWorld(database: Database, options: { jobs?: boolean; cipher?: TokenCipher } = {}) {
  const now = new Date(Math.ceil(Date.now() / 60_000) * 60_000 + 60_000);
  const sim = await startSimulators({ port: 0, host: '127.0.0.1', now });
  const ref: { jobs?: Jobs } = {};
  const api = await startTestApi(database, {
    simulatorUrl: sim.url,
    ...(options.cipher ? { cipher: options.cipher } : {}),
    ...(options.jobs ? { drain: () => ref.jobs!.drain(), jobs: { send: (...args) => ref.jobs!.send(...args) } } : {}),
  });
  api.clock.set(now);
  if (options.jobs) {
    ref.jobs = createJobs({ database, clock: api.clock });
    await ref.jobs.start({ role: 'web' });
    await registerWorkers(ref.jobs, { ...api.ctx, providers: api.providers, cipher: api.cipher, publicUrl: api.publicUrl }, pino({ level: 'silent' }));
  }
  const deps: SyncDeps = {
    ...api.ctx,
    providers: api.providers,
    cipher: api.cipher,
    publicUrl: api.publicUrl,
    mail: createMailProviders({ google: { baseUrl: `${sim.url}/google` }, microsoft: { baseUrl: `${sim.url}/microsoft` }, now: () => api.clock.now() }),
  };
  const control = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${sim.url}${path}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  const drain = async () => {
    if (!ref.jobs) throw new Error('startWorld(database, { jobs: true }) runs jobs');
    return ref.jobs.drain();
  };
  return { now, sim, api, deps, control, jobs: ref.jobs, drain, close: async () => { await api.close(); await ref.jobs?.stop(); await sim.close(); } };
}
export type World = Awaited<ReturnType<typeof startWorld>>;

let companies = 0;

/**
 * A contract built through the API from a generated mailbox: its candidates (emails, discovery setting, the
 * recruiter's degree) and projects (active or closed), the provider chosen, the mailbox loaded into the
 * simulator and connected through the full OAuth round trip.
 */
export async function mailboxCompany(
  world: World,
  provider: Provider,
  size: MailboxSize,
  seed: string,
  options: { months?: number; firstAuthorizedAt?: Date; beforeConnect?: (setup: CompanySetup) => Promise<void> } = {},
) {
  const { api, sim, control, now } = world;
  const domain = `sync${++companies}-${provider}.test`;
  const c = await createCompany(api, `Sync ${companies}`, domain);
  const address = `rita@${domain}`;
  const scenario = options.firstAuthorizedAt ? { scenario: { authorizedAt: now, firstAuthorizedAt: options.firstAuthorizedAt } } : {};
  const generated: GeneratedMailbox = generateMailbox({ seed, owner: { address, name: 'Rita Recruiter' }, companyDomain: domain, now, size, ...(options.months ? { months: options.months } : {}), ...scenario });
  await control('POST', '/_sim/tenants', { provider, domain });
  const ids = await loadIntoSimulator(sim.state, { provider, address }, generated);

  const candidateIds = new Map<string, string>();
  const projectIds = new Map<string, string>();
  for (const cand of generated.candidates) {
    const created = await c.json('POST', `/api/v1/contracts/${c.contract.id}/candidates`, { name: cand.name, emails: cand.emails, emailDiscovery: cand.discovery });
    candidateIds.set(cand.key, created.id);
    if (cand.degree !== null) await c.json('PUT', `/api/v1/candidates/${created.id}/connections`, { userId: c.recruiter.id, degree: cand.degree });
  }
  for (const project of generated.projects) {
    const created = await c.json('POST', `/api/v1/contracts/${c.contract.id}/projects`, { name: project.name });
    projectIds.set(project.key, created.id);
    for (const key of project.candidateKeys) await c.json('POST', `/api/v1/projects/${created.id}/candidates`, { candidateId: candidateIds.get(key) });
    if (project.status === 'closed') await c.json('PATCH', `/api/v1/projects/${created.id}`, { status: 'closed' });
  }
  await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: provider, emailAccess: 'view' });
  await options.beforeConnect?.({ ...c, domain, address, generated, candidateIds, projectIds });
  await connectMailbox(api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'email', address });
  if (options.firstAuthorizedAt) {
    // A seat first authorized long ago (the product's clock cannot go back there): its history says so.
    await api.ctx.db.updateTable('mailbox_authorizations').set({ first_authorized_at: options.firstAuthorizedAt }).where('seat_id', '=', c.seat.id).where('kind', '=', 'email').execute();
  }
  const grant = await api.ctx.db.selectFrom('mailbox_authorizations').selectAll().where('seat_id', '=', c.seat.id).where('kind', '=', 'email').executeTakeFirstOrThrow();
  return { ...c, domain, address, generated, ids, grant, candidateIds, projectIds };
}
/** The contract as built before the mailbox is connected. */
export type CompanySetup = Awaited<ReturnType<typeof createCompany>> & {
  domain: string;
  address: string;
  generated: GeneratedMailbox;
  candidateIds: Map<string, string>;
  projectIds: Map<string, string>;
};
export type MailboxCompany = Awaited<ReturnType<typeof mailboxCompany>>;

export const canonical = (id: string | null | undefined): string => (id ?? '').trim().replace(/^<|>$/g, '').toLowerCase();

/** Message-IDs the oracle expects after the historical sync, for the scenario the sync actually ran. */
export async function expectedAfterHistorical(world: World, c: MailboxCompany): Promise<Set<string>> {
  const state = await world.api.ctx.db.selectFrom('sync_states').selectAll().where('authorization_id', '=', c.grant.id).executeTakeFirstOrThrow();
  const expected = oracle(c.generated, { authorizedAt: c.grant.last_authorized_at, firstAuthorizedAt: c.grant.first_authorized_at, syncAt: state.historical_started_at! });
  return new Set(c.generated.messages.filter((m) => expected.get(m.key)?.ingested).map((m) => canonical(m.messageId)));
}

/** Stored messages of the seat by Message-ID, asserting that none is stored twice. */
export async function storedMessageIds(world: World, c: MailboxCompany): Promise<Set<string>> {
  const rows = await world.api.ctx.db.selectFrom('mail_messages').select(['rfc_message_id', 'provider_message_id']).where('owner_seat_id', '=', c.seat.id).execute();
  const ids = rows.map((r) => canonical(r.rfc_message_id));
  expect(new Set(ids).size, 'no message stored twice').toBe(ids.length);
  return new Set(ids);
}

export function expectSameSet(actual: Set<string>, expected: Set<string>): void {
  const lost = [...expected].filter((id) => !actual.has(id));
  const extra = [...actual].filter((id) => !expected.has(id));
  expect({ lost, extra }).toEqual({ lost: [], extra: [] });
}

export async function usageOf(world: World, provider: Provider, address: string): Promise<{ units: number; bodiesServed: number; requests: Record<string, number> }> {
  const usage = await world.control('GET', '/_sim/usage');
  return usage[provider]?.[address] ?? { units: 0, bodiesServed: 0, requests: {} };
}

/** The generated messages a candidate takes part in. */
export const mailOf = (g: GeneratedMailbox, key: string) => g.messages.filter((m) => m.people.some((p) => p.kind === 'candidate' && p.candidateKey === key));

/** The pipeline candidate whose past mail matters most: the most messages the oracle lets in only while they are in the pipeline. */
export function richestCandidate(g: GeneratedMailbox, now: Date): string {
  const scenario = { authorizedAt: now, firstAuthorizedAt: now };
  const base = oracle(g, scenario);
  let best: { key: string; gained: number } | null = null;
  for (const cand of g.candidates.filter((x) => x.membership === 'active')) {
    const out = oracle(g, { ...scenario, candidateOverrides: { [cand.key]: { membership: 'talent_pool' } } });
    const gained = g.messages.filter((m) => base.get(m.key)!.ingested && !out.get(m.key)!.ingested).length;
    if (!best || gained > best.gained) best = { key: cand.key, gained };
  }
  return best!.key;
}

/**
 * A `beforeConnect` that takes the pipeline candidate with the most mail out of the pipeline before the mailbox is
 * connected (they join later, R-39) and runs the jobs the setup enqueued; `joiner.key` names the candidate.
 */
export function joinsLater(world: World) {
  const joiner = { key: '', id: '' };
  const beforeConnect = async (setup: CompanySetup) => {
    joiner.key = richestCandidate(setup.generated, world.api.clock.now());
    joiner.id = setup.candidateIds.get(joiner.key)!;
    for (const project of setup.generated.projects.filter((p) => p.candidateKeys.includes(joiner.key))) {
      const res = await world.api.call('DELETE', `/api/v1/projects/${setup.projectIds.get(project.key)}/candidates/${joiner.id}`, { token: setup.contractToken });
      expect(res.statusCode, res.body).toBeLessThan(300);
    }
    await world.drain();
  };
  return { joiner, beforeConnect };
}

/**
 * A received candidate message the rules ingest: from the Inbox where the generated mailbox has one, else from
 * Archive or a user folder (the generator files part of the received mail away, depending on the seed).
 */
export function receivedCandidateMessage(c: MailboxCompany): GeneratedMailbox['messages'][number] {
  const wanted = c.generated.messages.filter((m) => m.kind === 'candidate' && m.expected.ingested && m.folder !== 'sent');
  const sample = wanted.find((m) => m.folder === 'inbox') ?? wanted[0];
  if (!sample) throw new Error(`the generated mailbox of ${c.address} holds no received candidate message`);
  return sample;
}
