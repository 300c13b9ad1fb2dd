import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { shortHash } from './text.ts';
import type { SimState } from '../core/state.ts';
import type { DeliveredIds, Provider } from '../core/mail.ts';
import type { Folder, GeneratedMailbox, GeneratedMessage } from './types.ts';

/** What the simulators return for one delivered message. */
export type ProviderIds = DeliveredIds;

/** The body of `POST /_sim/mailboxes/{address}/messages` as the generator sends it: composed MIME. */
export interface RawDeliverInput {
  raw: string;
  folder: Folder;
  threadKey: string;
  date: string;
}

/**
 * The mailbox to load into. Missing fields come from the generated owner; the mailbox is created when it
 * does not exist yet (an existing one is reused as it is).
 */
export interface MailboxSpec {
  provider: Provider;
  address?: string;
  aliases?: string[];
  password?: string;
  displayName?: string;
}

/**
 * One message as RFC 5322 bytes. Composed here rather than by the simulator so that our Message-IDs,
 * References, attachments and encoded headers reach the mailbox exactly as generated; the multipart
 * boundary is derived from the key so the bytes are reproducible too.
 */
export async function composeRaw(message: GeneratedMessage): Promise<Buffer> {
  const cached = composed.get(message);
  if (cached) return cached;
  const raw = await compose(message);
  composed.set(message, raw);
  return raw;
}

/** Loading one generated mailbox into several simulators (side-by-side benchmarks) composes it once. */
const composed = new WeakMap<GeneratedMessage, Buffer>();

async function compose(message: GeneratedMessage): Promise<Buffer> {
  const composer = new MailComposer({
    from: message.from,
    to: message.to,
    cc: message.cc,
    bcc: message.bcc,
    subject: message.subject,
    ...(message.text !== undefined ? { text: message.text } : {}),
    ...(message.html !== undefined ? { html: message.html } : {}),
    date: new Date(message.date),
    messageId: message.messageId,
    ...(message.inReplyTo ? { inReplyTo: message.inReplyTo, references: message.references ?? [message.inReplyTo] } : {}),
    ...(message.attachments
      ? { attachments: message.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, content: a.content, encoding: 'base64' })) }
      : {}),
    baseBoundary: shortHash(message.key) + shortHash(message.messageId),
  });
  const node = composer.compile();
  // The sender's own copy (Sent, Drafts) keeps its Bcc header, as mail clients store it.
  node.keepBcc = true;
  return node.build();
}

/** Composes every message, a batch at a time (composition is asynchronous but CPU-bound). */
export async function toDeliverInputs(messages: readonly GeneratedMessage[], batch = 50): Promise<RawDeliverInput[]> {
  const out: RawDeliverInput[] = [];
  for (let i = 0; i < messages.length; i += batch) {
    const slice = messages.slice(i, i + batch);
    const raws = await Promise.all(slice.map(composeRaw));
    slice.forEach((m, j) => out.push({ raw: raws[j]!.toString('base64'), folder: m.folder, threadKey: m.threadKey, date: m.date }));
  }
  return out;
}

function mailboxFields(mailbox: string | MailboxSpec, generated: GeneratedMailbox) {
  if (typeof mailbox === 'string') return { address: mailbox, create: null };
  const address = mailbox.address ?? generated.owner.address;
  return {
    address,
    create: {
      provider: mailbox.provider,
      address,
      aliases: mailbox.aliases ?? (address === generated.owner.address ? (generated.owner.aliases ?? []) : []),
      ...(mailbox.password !== undefined ? { password: mailbox.password } : {}),
      displayName: mailbox.displayName ?? generated.owner.name,
    },
  };
}

/**
 * Delivers the generated mail into an in-process simulator mailbox through `state.mail.deliverMany`, in
 * date order, and returns the provider ids by generated key. A plain address must name an existing mailbox;
 * a MailboxSpec creates it when missing.
 */
export async function loadIntoSimulator(
  state: Pick<SimState, 'mail'>,
  mailbox: string | MailboxSpec,
  generated: GeneratedMailbox,
  opts: { chunk?: number } = {},
): Promise<Map<string, ProviderIds>> {
  const { address, create } = mailboxFields(mailbox, generated);
  if (create && !state.mail.mailbox(address)) state.mail.createMailbox(create);
  const chunk = opts.chunk ?? 1000;
  const result = new Map<string, ProviderIds>();
  for (let i = 0; i < generated.messages.length; i += chunk) {
    const slice = generated.messages.slice(i, i + chunk);
    const raws: Buffer[] = [];
    for (let j = 0; j < slice.length; j += 50) raws.push(...(await Promise.all(slice.slice(j, j + 50).map(composeRaw))));
    const ids = await state.mail.deliverMany(
      address,
      slice.map((m, j) => ({ raw: raws[j]!, folder: m.folder, threadKey: m.threadKey, date: m.date })),
    );
    if (ids.length !== slice.length) throw new Error(`deliverMany returned ${ids.length} ids for ${slice.length} messages`);
    slice.forEach((m, j) => result.set(m.key, ids[j]!));
  }
  return result;
}

async function readJson(res: Response, what: string): Promise<unknown> {
  const text = await res.text();
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

/**
 * Delivers the generated mail to a remote simulator (`recruiter-sync sim`) through the control API, in date
 * order, and returns the provider ids by generated key. With a MailboxSpec the mailbox is created first (an
 * existing one is reused). Uses the simulators' bulk route (`…/messages/bulk`) in chunks, or one
 * `POST …/messages` per message with `bulk: false` (or when the bulk route is missing).
 */
export async function loadViaControlApi(
  baseUrl: string,
  mailbox: string | MailboxSpec,
  generated: GeneratedMailbox,
  opts: { bulk?: boolean; chunk?: number; fetch?: typeof fetch } = {},
): Promise<Map<string, ProviderIds>> {
  const doFetch = opts.fetch ?? fetch;
  const base = baseUrl.replace(/\/+$/, '');
  const { address, create } = mailboxFields(mailbox, generated);
  const post = (path: string, body: unknown) =>
    doFetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (create) {
    const res = await post('/_sim/mailboxes', create);
    if (res.status === 409) await res.text();
    else await readJson(res, `creating mailbox ${address}`);
  }
  const path = `/_sim/mailboxes/${encodeURIComponent(address)}/messages`;
  const result = new Map<string, ProviderIds>();
  const chunk = Math.min(opts.chunk ?? 1000, 5000);
  let bulk = opts.bulk ?? true;
  for (let i = 0; i < generated.messages.length; i += chunk) {
    const slice = generated.messages.slice(i, i + chunk);
    const inputs = await toDeliverInputs(slice);
    if (bulk) {
      const res = await post(`${path}/bulk`, { messages: inputs });
      if (res.status === 404 && i === 0) {
        await res.text();
        bulk = false;
      } else {
        const ids = (await readJson(res, `delivering ${slice.length} messages`)) as ProviderIds[];
        if (ids.length !== slice.length) throw new Error(`bulk delivery returned ${ids.length} ids for ${slice.length} messages`);
        slice.forEach((m, j) => result.set(m.key, pickIds(ids[j]!)));
        continue;
      }
    }
    for (const [j, m] of slice.entries()) {
      const ids = (await readJson(await post(path, inputs[j]), `delivering ${m.key}`)) as ProviderIds;
      result.set(m.key, pickIds(ids));
    }
  }
  return result;
}

function pickIds(ids: ProviderIds): ProviderIds {
  return { id: ids.id, threadId: ids.threadId, messageId: ids.messageId };
}
