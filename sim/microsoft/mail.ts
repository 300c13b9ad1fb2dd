import { GraphError, badRequest, notFound } from './errors.ts';
import type { MsContext } from './context.ts';
import { composeOutgoing, outlookMessageId, parseMimeSubmission, type Outgoing } from './compose.ts';
import { b64url, newGuid, opaque, resolveFolder } from './ids.ts';
import { parseFull, recipients, renderDraft, renderMessage } from './messages.ts';
import type { Draft, Recipient } from './state.ts';
import { accepted, draftById, findMessage, ok, preferenceApplied, renderOptions, requireScope, type Caller, type GraphRequest, type Handler, type Route } from './graph.ts';

/**
 * Sending and drafts: `sendMail` (JSON or base64 MIME), `createReply`/`createReplyAll`/`createForward` →
 * `PATCH` → `send`, `reply`/`replyAll`, `POST /me/messages`, `move`, `DELETE`. Sent mail is saved in Sent
 * Items of the same mailbox (threaded into the original conversation), listed by the control API's sent
 * list, and delivered to any simulated mailbox among the recipients.
 */

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function recipientList(v: unknown, field: string): Recipient[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw badRequest(`Property '${field}' must be a collection.`, 'ErrorInvalidRecipients');
  return v.map((r) => {
    const ea = isObj(r) && isObj(r.emailAddress) ? r.emailAddress : null;
    const address = ea && typeof ea.address === 'string' ? ea.address.trim() : '';
    if (!/^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/.test(address)) {
      throw new GraphError(400, 'ErrorInvalidRecipients', `At least one recipient is not valid., Recipient '${address}' is not resolved. All recipients must be resolved before a message can be submitted.`);
    }
    return { emailAddress: { name: ea && typeof ea.name === 'string' ? ea.name : address, address } };
  });
}

function bodyOf(v: unknown): { contentType: 'text' | 'html'; content: string } | null {
  if (!isObj(v)) return null;
  const ct = String(v.contentType ?? 'text').toLowerCase();
  if (ct !== 'text' && ct !== 'html') throw badRequest(`Invalid contentType '${String(v.contentType)}'.`);
  return { contentType: ct, content: typeof v.content === 'string' ? v.content : '' };
}

function customHeaders(v: unknown): Array<{ name: string; value: string }> {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw badRequest("Property 'internetMessageHeaders' must be a collection.");
  return v.map((h) => {
    const name = isObj(h) && typeof h.name === 'string' ? h.name : '';
    // Graph accepts only custom headers here (x-…); In-Reply-To and References cannot be set this way.
    if (!/^x-/i.test(name)) throw badRequest(`The internet message header name '${name}' should start with 'x-' or 'X-'.`, 'InvalidInternetMessageHeader');
    return { name, value: isObj(h) ? String(h.value ?? '') : '' };
  });
}

function fromOf(ctx: MsContext, caller: Caller) {
  const mb = ctx.core.mailbox(caller.address);
  return { name: mb?.displayName ?? caller.address, address: mb?.address ?? caller.address };
}

/** Sends: Sent Items copy (unless saveToSentItems is false), the sent list, delivery to simulated recipients. */
async function submit(ctx: MsContext, caller: Caller, raw: Buffer, messageId: string, threadKey: string | undefined, inReplyTo: string | null, save: boolean): Promise<void> {
  const now = ctx.core.now();
  const email = await parseFull({ id: `submit:${messageId}`, raw });
  let ids = { id: `${b64url(Buffer.from(opaque(24)))}`, threadId: threadKey ?? b64url(Buffer.from(opaque(24))), messageId };
  if (save) {
    ids = ctx.core.deliver(caller.address, { raw, folder: 'sent', date: now, ...(threadKey ? { threadKey } : {}), ...(inReplyTo ? { inReplyTo } : {}) });
  }
  const addrs = (list: Recipient[]) => list.map((r) => r.emailAddress.address);
  ctx.core.recordSent(caller.address, {
    id: ids.id,
    threadId: ids.threadId,
    messageId: ids.messageId,
    inReplyTo: email.inReplyTo ?? null,
    references: (email.references ?? '').split(/\s+/).filter(Boolean),
    from: caller.address,
    to: addrs(recipients(email.to)),
    cc: addrs(recipients(email.cc)),
    subject: email.subject ?? '',
    text: email.text ?? null,
    html: email.html ?? null,
    sentAt: now,
  });
  const targets = new Set([...recipients(email.to), ...recipients(email.cc), ...recipients(email.bcc)].map((r) => r.emailAddress.address.toLowerCase()));
  for (const t of targets) {
    if (!ctx.core.hasMailbox(t)) continue;
    // Recipients do not see the Bcc header.
    const delivered = stripBcc(raw);
    ctx.core.deliver(t, { raw: delivered, folder: 'inbox', date: now, ...(email.inReplyTo ? { inReplyTo: email.inReplyTo } : {}) });
  }
}

function stripBcc(raw: Buffer): Buffer {
  const text = raw.toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  const head = text.slice(0, end).replace(/^Bcc:.*(\r?\n[ \t].*)*\r?\n/gim, '');
  return Buffer.from(head + text.slice(end), 'latin1');
}

async function sendOutgoing(ctx: MsContext, caller: Caller, o: Outgoing, threadKey: string | undefined, save: boolean): Promise<void> {
  if (o.to.length + o.cc.length + o.bcc.length === 0) throw new GraphError(400, 'ErrorInvalidRecipients', 'At least one recipient is required, but none were found.');
  const { raw, messageId } = await composeOutgoing(o);
  await submit(ctx, caller, raw, messageId, threadKey, o.inReplyTo, save);
}

const sendMail: Handler = async (ctx, req, caller) => {
  requireScope(caller, 'Mail.Send');
  if (typeof req.body === 'string') {
    const { raw, messageId, email } = await parseMimeSubmission(req.body, ctx.core.now());
    const parent = email.inReplyTo ? [...ctx.core.messages(caller.address)].find((m) => m.messageId === email.inReplyTo) : undefined;
    await submit(ctx, caller, raw, messageId, parent?.threadId, email.inReplyTo ?? null, true);
    return accepted();
  }
  if (!isObj(req.body) || !isObj(req.body.message)) throw badRequest("Empty Payload. JSON content expected.", 'ErrorInvalidRequest');
  const m = req.body.message;
  const save = req.body.saveToSentItems === undefined ? true : req.body.saveToSentItems === true || req.body.saveToSentItems === 'true';
  await sendOutgoing(ctx, caller, {
    from: fromOf(ctx, caller),
    to: recipientList(m.toRecipients, 'toRecipients'),
    cc: recipientList(m.ccRecipients, 'ccRecipients'),
    bcc: recipientList(m.bccRecipients, 'bccRecipients'),
    replyTo: recipientList(m.replyTo, 'replyTo'),
    subject: typeof m.subject === 'string' ? m.subject : '',
    body: bodyOf(m.body) ?? { contentType: 'text', content: '' },
    inReplyTo: null,
    references: [],
    extraHeaders: customHeaders(m.internetMessageHeaders),
    date: ctx.core.now(),
  }, undefined, save);
  return accepted();
};

function prefixed(prefix: 'RE' | 'FW', subject: string): string {
  return new RegExp(`^${prefix}:`, 'i').test(subject.trim()) ? subject : `${prefix}: ${subject}`;
}

function quoteHtml(email: { html?: string | undefined; text?: string | undefined; subject?: string | undefined; date?: string | undefined }, fromLine: string, toLine: string): string {
  const original = email.html ?? `<div>${(email.text ?? '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/\n/g, '<br>')}</div>`;
  return `<hr style="display:inline-block;width:98%"><div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif" style="font-size:11pt"><b>From:</b> ${fromLine}<br><b>Sent:</b> ${email.date ?? ''}<br><b>To:</b> ${toLine}<br><b>Subject:</b> ${email.subject ?? ''}</font><div>&nbsp;</div></div>${original}`;
}

function commentHtml(comment: string): string {
  return `<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head><body><div>${comment.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/\n/g, '<br>')}</div>`;
}

type ReplyKind = 'reply' | 'replyAll' | 'forward';

async function buildReply(ctx: MsContext, req: GraphRequest, caller: Caller, id: string, kind: ReplyKind): Promise<Draft> {
  const orig = findMessage(ctx, caller.address, id);
  const email = await parseFull(orig);
  const body = isObj(req.body) ? req.body : {};
  const overrides = isObj(body.message) ? body.message : {};
  const comment = typeof body.comment === 'string' ? body.comment : '';
  const self = new Set([caller.address.toLowerCase(), ...(ctx.core.mailbox(caller.address)?.aliases ?? []).map((a) => a.toLowerCase())]);
  const from = recipients(email.replyTo?.length ? email.replyTo : email.from);
  let to: Recipient[] = [];
  let cc: Recipient[] = [];
  if (kind !== 'forward') {
    // Replying to one's own sent message goes to its recipients, as Outlook does.
    const fromIsSelf = from.every((r) => self.has(r.emailAddress.address.toLowerCase()));
    to = fromIsSelf ? recipients(email.to) : from;
    if (kind === 'replyAll') {
      const seen = new Set(to.map((r) => r.emailAddress.address.toLowerCase()));
      const more = [...recipients(email.to), ...recipients(email.cc)].filter((r) => {
        const a = r.emailAddress.address.toLowerCase();
        if (self.has(a) || seen.has(a)) return false;
        seen.add(a);
        return true;
      });
      if (fromIsSelf) to = more.length ? [...to] : to;
      else cc = more;
    }
  }
  if (overrides.toRecipients !== undefined) to = recipientList(overrides.toRecipients, 'toRecipients');
  if (overrides.ccRecipients !== undefined) cc = recipientList(overrides.ccRecipients, 'ccRecipients');
  const fmt = (l: Recipient[]) => l.map((r) => `${r.emailAddress.name ?? ''} &lt;${r.emailAddress.address}&gt;`).join('; ');
  const refs = [...(email.references ?? '').split(/\s+/).filter(Boolean), email.messageId ?? orig.messageId];
  const overrideBody = bodyOf(overrides.body);
  const now = ctx.core.now();
  const draftKey = `D${opaque(30)}`;
  return {
    id: draftKey,
    address: caller.address,
    conversationId: orig.threadId,
    subject: typeof overrides.subject === 'string' ? overrides.subject : prefixed(kind === 'forward' ? 'FW' : 'RE', email.subject ?? ''),
    body: overrideBody ?? { contentType: 'html', content: `${commentHtml(comment)}${quoteHtml(email, fmt(recipients(email.from)), fmt(recipients(email.to)))}</body></html>` },
    toRecipients: to,
    ccRecipients: cc,
    bccRecipients: overrides.bccRecipients !== undefined ? recipientList(overrides.bccRecipients, 'bccRecipients') : [],
    replyTo: [],
    inReplyTo: kind === 'forward' ? null : (email.messageId ?? orig.messageId),
    references: kind === 'forward' ? [] : refs,
    internetMessageId: outlookMessageId(),
    createdAt: now,
    lastModified: now,
    version: 1,
  };
}

function draftCreated(ctx: MsContext, req: GraphRequest, caller: Caller, d: Draft) {
  ctx.ms.drafts.set(d.id, d);
  const r = renderDraft(d, renderOptions(req, caller, null));
  return ok({ '@odata.context': `${req.base}/$metadata#users('${encodeURIComponent(caller.address)}')/messages/$entity`, ...r.json }, 201, preferenceApplied(req));
}

const createReplyOf = (kind: ReplyKind): Handler => async (ctx, req, caller, [id]) => {
  requireScope(caller, 'Mail.ReadWrite');
  return draftCreated(ctx, req, caller, await buildReply(ctx, req, caller, id!, kind));
};

const replyNow = (kind: ReplyKind): Handler => async (ctx, req, caller, [id]) => {
  requireScope(caller, 'Mail.Send');
  const d = await buildReply(ctx, req, caller, id!, kind);
  await sendDraft(ctx, caller, d);
  return accepted();
};

async function sendDraft(ctx: MsContext, caller: Caller, d: Draft): Promise<void> {
  await sendOutgoing(ctx, caller, {
    from: fromOf(ctx, caller), to: d.toRecipients, cc: d.ccRecipients, bcc: d.bccRecipients, replyTo: d.replyTo,
    subject: d.subject, body: d.body, inReplyTo: d.inReplyTo, references: d.references, extraHeaders: [],
    date: ctx.core.now(), messageId: d.internetMessageId,
  }, d.conversationId, true);
}

const createDraft: Handler = (ctx, req, caller) => {
  requireScope(caller, 'Mail.ReadWrite');
  const m = isObj(req.body) ? req.body : {};
  const now = ctx.core.now();
  return draftCreated(ctx, req, caller, {
    id: `D${opaque(30)}`,
    address: caller.address,
    conversationId: b64url(Buffer.from(`conv:${newGuid()}`)),
    subject: typeof m.subject === 'string' ? m.subject : '',
    body: bodyOf(m.body) ?? { contentType: 'text', content: '' },
    toRecipients: recipientList(m.toRecipients, 'toRecipients'),
    ccRecipients: recipientList(m.ccRecipients, 'ccRecipients'),
    bccRecipients: recipientList(m.bccRecipients, 'bccRecipients'),
    replyTo: recipientList(m.replyTo, 'replyTo'),
    inReplyTo: null,
    references: [],
    internetMessageId: outlookMessageId(),
    createdAt: now,
    lastModified: now,
    version: 1,
  });
};

const DRAFT_FIELDS = new Set(['subject', 'body', 'toRecipients', 'ccRecipients', 'bccRecipients', 'replyTo', 'importance', 'isRead', 'categories', 'flag', 'inferenceClassification', 'isDeliveryReceiptRequested', 'isReadReceiptRequested']);
const ITEM_FIELDS = new Set(['isRead', 'categories', 'flag', 'importance', 'inferenceClassification', 'isDeliveryReceiptRequested', 'isReadReceiptRequested']);

const patchMessage: Handler = async (ctx, req, caller, [id]) => {
  requireScope(caller, 'Mail.ReadWrite');
  const patch = isObj(req.body) ? req.body : {};
  const d = draftById(ctx, caller.address, id!);
  if (d) {
    for (const k of Object.keys(patch)) if (!DRAFT_FIELDS.has(k)) throw badRequest(`Invalid property '${k}'.`, 'ErrorInvalidProperty');
    if (typeof patch.subject === 'string') d.subject = patch.subject;
    const b = bodyOf(patch.body);
    if (b) d.body = b;
    if (patch.toRecipients !== undefined) d.toRecipients = recipientList(patch.toRecipients, 'toRecipients');
    if (patch.ccRecipients !== undefined) d.ccRecipients = recipientList(patch.ccRecipients, 'ccRecipients');
    if (patch.bccRecipients !== undefined) d.bccRecipients = recipientList(patch.bccRecipients, 'bccRecipients');
    if (patch.replyTo !== undefined) d.replyTo = recipientList(patch.replyTo, 'replyTo');
    d.version++;
    d.lastModified = ctx.core.now();
    const r = renderDraft(d, renderOptions(req, caller, null));
    return ok({ '@odata.context': `${req.base}/$metadata#users('${encodeURIComponent(caller.address)}')/messages/$entity`, ...r.json }, 200, preferenceApplied(req));
  }
  const m = findMessage(ctx, caller.address, id!);
  for (const k of Object.keys(patch)) {
    if (!ITEM_FIELDS.has(k)) throw badRequest(`The property '${k}' can only be updated on draft messages.`, 'ErrorInvalidPropertyUpdateSentMessage');
  }
  const r = await renderMessage(m, renderOptions(req, caller, ['subject', 'isRead', 'parentFolderId', 'conversationId']));
  return ok({ '@odata.context': `${req.base}/$metadata#users('${encodeURIComponent(caller.address)}')/messages/$entity`, ...r.json }, 200, preferenceApplied(req));
};

const sendExisting: Handler = async (ctx, _req, caller, [id]) => {
  requireScope(caller, 'Mail.Send');
  const d = draftById(ctx, caller.address, id!);
  if (!d) {
    findMessage(ctx, caller.address, id!);
    throw badRequest('Only draft messages can be sent.', 'ErrorInvalidOperation');
  }
  await sendDraft(ctx, caller, d);
  ctx.ms.drafts.delete(d.id);
  return accepted();
};

const deleteMessage: Handler = (ctx, _req, caller, [id]) => {
  requireScope(caller, 'Mail.ReadWrite');
  const d = draftById(ctx, caller.address, id!);
  if (d) {
    ctx.ms.drafts.delete(d.id);
    return { status: 204, headers: {}, body: null };
  }
  const m = findMessage(ctx, caller.address, id!);
  if (m.folder === 'trash') ctx.core.deletePermanently(caller.address, m.id);
  else ctx.core.move(caller.address, m.id, 'trash');
  return { status: 204, headers: {}, body: null };
};

const moveMessage: Handler = async (ctx, req, caller, [id]) => {
  requireScope(caller, 'Mail.ReadWrite');
  const dest = isObj(req.body) && typeof req.body.destinationId === 'string' ? req.body.destinationId : '';
  const folder = resolveFolder(caller.address, dest, ctx.core.userFolders(caller.address));
  if (!folder) throw new GraphError(400, 'ErrorInvalidIdMalformed', 'Id is malformed.');
  // Outbox, Conversation History and Sync Issues hold no mail here.
  if (folder === 'outbox' || folder === 'conversationhistory' || folder === 'syncissues') throw new GraphError(400, 'ErrorMoveCopyFailed', 'The item cannot be moved to this folder.');
  const m = findMessage(ctx, caller.address, id!);
  ctx.core.move(caller.address, m.id, folder);
  const moved = ctx.core.message(caller.address, m.id);
  if (!moved) throw notFound();
  const r = await renderMessage(moved, renderOptions(req, caller, ['subject', 'parentFolderId', 'conversationId', 'internetMessageId', 'receivedDateTime']));
  return ok({ '@odata.context': `${req.base}/$metadata#users('${encodeURIComponent(caller.address)}')/messages/$entity`, ...r.json }, 201, preferenceApplied(req));
};

export const mailRoutes: Route[] = [
  { method: 'POST', pattern: ['sendmail'], name: 'users.sendMail', handler: sendMail },
  { method: 'POST', pattern: ['messages'], name: 'messages.create', handler: createDraft },
  { method: 'POST', pattern: ['mailfolders', ':', 'messages'], name: 'messages.create', handler: createDraft },
  { method: 'PATCH', pattern: ['messages', ':'], name: 'messages.update', handler: patchMessage },
  { method: 'DELETE', pattern: ['messages', ':'], name: 'messages.delete', handler: deleteMessage },
  { method: 'POST', pattern: ['messages', ':', 'createreply'], name: 'messages.createReply', handler: createReplyOf('reply') },
  { method: 'POST', pattern: ['messages', ':', 'createreplyall'], name: 'messages.createReplyAll', handler: createReplyOf('replyAll') },
  { method: 'POST', pattern: ['messages', ':', 'createforward'], name: 'messages.createForward', handler: createReplyOf('forward') },
  { method: 'POST', pattern: ['messages', ':', 'reply'], name: 'messages.reply', handler: replyNow('reply') },
  { method: 'POST', pattern: ['messages', ':', 'replyall'], name: 'messages.replyAll', handler: replyNow('replyAll') },
  { method: 'POST', pattern: ['messages', ':', 'send'], name: 'messages.send', handler: sendExisting },
  { method: 'POST', pattern: ['messages', ':', 'move'], name: 'messages.move', handler: moveMessage },
];
