import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { shortHash } from './text.ts';
import type { Folder, GeneratedMailbox, GeneratedMessage } from './types.ts';

/** What the simulators return for one delivered message. */
export interface ProviderIds {
  id: string;
  threadId: string;
  messageId: string;
}

/** The body of `POST /_sim/mailboxes/{address}/messages` as the generator sends it: composed MIME. */
export interface RawDeliverInput {
  raw: string;
  folder: Folder;
  threadKey: string;
  date: string;
}

export interface MailboxSpec {
  provider: 'google' | 'microsoft';
  address: string;
  aliases?: string[];
  password?: string;
}

/** The part of the simulators' state the loader uses (structural, so any SimState fits). */
export interface MailStoreLike {
  deliverMany(address: string, inputs: RawDeliverInput[]): ProviderIds[] | Promise<ProviderIds[]>;
}

/**
 * One message as RFC 5322 bytes. Composed here rather than by the simulator so that our Message-IDs,
 * References, attachments and encoded headers reach the mailbox exactly as generated; the multipart
 * boundary is derived from the key so the bytes are reproducible too.
 */
export async function composeRaw(message: GeneratedMessage): Promise<Buffer> {
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

function addressOf(mailbox: string | MailboxSpec): string {
  return typeof mailbox === 'string' ? mailbox : mailbox.address;
}

/**
 * Delivers the generated mail into an in-process simulator mailbox through `state.mail.deliverMany`, in
 * date order. The mailbox must exist (create it through the state or the control API first).
 */
export async function loadIntoSimulator(
  state: { mail: MailStoreLike },
  mailbox: string | MailboxSpec,
  generated: GeneratedMailbox,
  opts: { chunk?: number } = {},
): Promise<Map<string, ProviderIds>> {
  const address = addressOf(mailbox);
  const chunk = opts.chunk ?? 1000;
  const result = new Map<string, ProviderIds>();
  for (let i = 0; i < generated.messages.length; i += chunk) {
    const slice = generated.messages.slice(i, i + chunk);
    const ids = await state.mail.deliverMany(address, await toDeliverInputs(slice));
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
 * Delivers the generated mail to a remote simulator (`recruiter-sync sim`) through the control API. With a
 * MailboxSpec the mailbox is created first (an existing one is reused). Threads are spread over `concurrency`
 * lanes; within a thread, messages go one after the other in date order so each reply finds its parent.
 */
export async function loadViaControlApi(
  baseUrl: string,
  mailbox: string | MailboxSpec,
  generated: GeneratedMailbox,
  opts: { concurrency?: number; fetch?: typeof fetch } = {},
): Promise<Map<string, ProviderIds>> {
  const doFetch = opts.fetch ?? fetch;
  const base = baseUrl.replace(/\/+$/, '');
  const address = addressOf(mailbox);
  if (typeof mailbox !== 'string') {
    const res = await doFetch(`${base}/_sim/mailboxes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(mailbox),
    });
    if (res.status !== 409) await readJson(res, `creating mailbox ${address}`);
    else await res.text();
  }
  const lanes = Math.max(1, opts.concurrency ?? 4);
  const byLane: GeneratedMessage[][] = Array.from({ length: lanes }, () => []);
  for (const m of generated.messages) byLane[parseInt(shortHash(m.threadKey), 16) % lanes]!.push(m);
  const result = new Map<string, ProviderIds>();
  const url = `${base}/_sim/mailboxes/${encodeURIComponent(address)}/messages`;
  await Promise.all(
    byLane.map(async (lane) => {
      for (const m of lane) {
        const [input] = await toDeliverInputs([m]);
        const res = await doFetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(input) });
        const ids = (await readJson(res, `delivering ${m.key}`)) as ProviderIds;
        result.set(m.key, { id: ids.id, threadId: ids.threadId, messageId: ids.messageId });
      }
    }),
  );
  return result;
}
