import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../../src/api/app.ts';
import { decisionRoutes } from '../../../src/api/routes/decisions.ts';
import { AdjustableClock } from '../../../src/clock.ts';
import { TokenCipher } from '../../../src/crypto/token-cipher.ts';
import { createProviderRegistry } from '../../../src/providers/registry.ts';
import type { ServiceContext } from '../../../src/services/context.ts';
import { createApiToken } from '../../../src/services/credentials.ts';
import type { Database } from '../../../src/store/database.ts';
import type { DecideContext, MessageFacts, SeatMailbox } from '../../../src/sync/ingest/types.ts';
import { loadCandidateLookup, loadSeatMailbox } from '../../../src/sync/ingest/candidates.ts';
import { SIM_CLIENT, type TestApi } from '../../helpers/app.ts';
import { createCompany, insertGrant } from '../../helpers/fixtures.ts';
import { compose } from './mail.ts';

/**
 * The test API with the decisions route, whether or not `app.ts` registers it yet (the same setup as
 * `startTestApi`, which readies the app before a route could be added).
 */
export async function startIngestApi(database: Database): Promise<TestApi> {
  const clock = new AdjustableClock();
  const ctx: ServiceContext = { db: database.db, clock };
  const cipher = new TokenCipher(randomBytes(32));
  const providers = createProviderRegistry(
    { google: { ...SIM_CLIENT, baseUrl: 'http://127.0.0.1:9/google' }, microsoft: { ...SIM_CLIENT, baseUrl: 'http://127.0.0.1:9/microsoft' } },
    () => clock.now(),
  );
  const publicUrl = 'http://127.0.0.1:3000';
  const app: FastifyInstance = await buildApp({ ctx, providers, cipher, publicUrl, version: 'test', logLevel: 'silent', serveWeb: false, testMode: { clock, jobs: { drain: async () => 0 } } });
  if (!app.hasRoute({ method: 'GET', url: '/api/v1/seats/:id/sync/decisions' })) decisionRoutes(app, ctx);
  await app.ready();
  const { token: systemToken } = await createApiToken(ctx, { kind: 'system' });
  return {
    app,
    ctx,
    cipher,
    providers,
    publicUrl,
    clock,
    systemToken,
    call: (method, url, opts = {}) =>
      app.inject({
        method: method as 'GET',
        url,
        headers: {
          ...(opts.token === null ? {} : { authorization: `Bearer ${opts.token ?? systemToken}` }),
          ...(opts.actAs ? { 'x-act-as-user': opts.actAs } : {}),
          ...(opts.headers ?? {}),
        },
        ...(opts.body !== undefined ? { payload: opts.body as object } : {}),
      }),
    close: async () => {
      await app.close();
    },
  };
}

/**
 * Acme with Rita's seat authorized at rita@acme.test (alias rita.recruiter@acme.test), and candidates for
 * every participant rule: Carla (pipeline, anyone), Olga (talent pool only), Fred (pipeline, first_degree,
 * Rita at 2nd degree), Dana (pipeline, first_degree, Rita at 1st degree), Max (pipeline, two emails).
 */
export async function ingestCompany(api: TestApi, name = 'Acme', domain = 'acme.test') {
  const company = await createCompany(api, name, domain);
  const { contract, json, recruiter, project, seat } = company;
  await json('PUT', `/api/v1/contracts/${contract.id}/settings`, { emailProvider: 'google', emailAccess: 'view' });
  const candidate = async (n: string, emails: string[], emailDiscovery: string, inPipeline: boolean, degree?: number) => {
    const c = await json('POST', `/api/v1/contracts/${contract.id}/candidates`, { name: n, emails, emailDiscovery });
    if (inPipeline) await json('POST', `/api/v1/projects/${project.id}/candidates`, { candidateId: c.id });
    if (degree !== undefined) await json('PUT', `/api/v1/candidates/${c.id}/connections`, { userId: recruiter.id, degree });
    return c as { id: string };
  };
  const olga = await candidate('Olga Outside', ['olga@mail.example'], 'anyone', false);
  const fred = await candidate('Fred Far', ['fred@mail.example'], 'first_degree', true, 2);
  const dana = await candidate('Dana Direct', ['dana@mail.example'], 'first_degree', true, 1);
  const max = await candidate('Max Multi', ['Max.Multi@Mail.Example', 'max+jobs@other.example'], 'anyone', true);
  await insertGrant(api, { seatId: seat.id, contractId: contract.id, kind: 'email', provider: 'google', scopes: ['https://www.googleapis.com/auth/gmail.readonly'], address: `rita@${domain}` });
  await api.ctx.db.updateTable('mailbox_authorizations').set({ aliases: [`rita.recruiter@${domain}`] }).where('seat_id', '=', seat.id).execute();
  const mailbox = await loadSeatMailbox(api.ctx.db, seat.id);
  return { ...company, olga, fred, dana, max, mailbox };
}

export type IngestCompany = Awaited<ReturnType<typeof ingestCompany>>;

export async function decideContext(api: TestApi, mailbox: SeatMailbox, now: Date): Promise<Omit<DecideContext, 'thread'>> {
  return { owner: mailbox.owner, candidates: await loadCandidateLookup(api.ctx.db, mailbox.contractId, mailbox.holderUserId), sync: { kind: 'incremental', now } };
}

export interface MailSpec {
  id: string;
  thread?: string;
  from: string;
  to: string | string[];
  cc?: string | string[];
  bcc?: string | string[];
  subject?: string;
  text?: string;
  html?: string;
  date: Date;
  messageId?: string;
  inReplyTo?: string;
  isSent?: boolean;
  isSpam?: boolean;
  attachments?: Array<{ filename: string; content: string | Buffer; contentType: string }>;
}

/** Header facts (as a provider's metadata read gives them) and the raw MIME of the same message. */
export async function mail(spec: MailSpec): Promise<{ facts: MessageFacts; raw: Buffer }> {
  const list = (v: string | string[] | undefined) => (v === undefined ? '' : Array.isArray(v) ? v.join(', ') : v);
  const messageId = spec.messageId ?? `<${spec.id}@msg.example>`;
  const raw = await compose({
    from: spec.from,
    to: spec.to,
    ...(spec.cc ? { cc: spec.cc } : {}),
    ...(spec.bcc ? { bcc: spec.bcc } : {}),
    subject: spec.subject ?? `Subject of ${spec.id}`,
    ...(spec.text !== undefined || spec.html === undefined ? { text: spec.text ?? `Body of ${spec.id}` } : {}),
    ...(spec.html !== undefined ? { html: spec.html } : {}),
    date: spec.date,
    messageId,
    ...(spec.inReplyTo ? { inReplyTo: spec.inReplyTo, references: [spec.inReplyTo] } : {}),
    ...(spec.attachments ? { attachments: spec.attachments } : {}),
  });
  const facts: MessageFacts = {
    providerMessageId: spec.id,
    providerThreadId: spec.thread ?? `thread-${spec.id}`,
    from: spec.from,
    to: list(spec.to),
    cc: list(spec.cc),
    bcc: list(spec.bcc),
    date: spec.date,
    isSpam: spec.isSpam ?? false,
    isDraft: false,
    isSent: spec.isSent ?? false,
    rfcMessageId: messageId,
    inReplyTo: spec.inReplyTo ?? null,
    references: spec.inReplyTo ? [spec.inReplyTo] : null,
  };
  return { facts, raw };
}
