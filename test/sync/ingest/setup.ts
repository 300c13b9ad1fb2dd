import type { DecideContext, MessageFacts, SeatMailbox } from '../../../src/sync/ingest/types.ts';
import { loadCandidateLookup, loadSeatMailbox } from '../../../src/sync/ingest/candidates.ts';
import type { TestApi } from '../../helpers/app.ts';
import { createCompany, insertGrant } from '../../helpers/fixtures.ts';
import { compose } from './mail.ts';

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
