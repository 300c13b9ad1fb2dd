import { randomUUID } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { domainOf, isValidAddress, normalizeAddress } from '../domain/addresses.ts';
import { accessAllowsSending } from '../domain/settings.ts';
import { scopesAllowSending } from '../domain/scopes.ts';
import { AppError, forbidden, validationFailed } from '../errors.ts';
import { ProviderError } from '../providers/errors.ts';
import { messageVisibleTo } from '../store/visibility.ts';
import { storeMessage } from '../sync/ingest/store.ts';
import { loadSeatMailbox } from '../sync/ingest/candidates.ts';
import { withMailboxBudget } from '../sync/quota-budget.ts';
import type { MessageDecision } from '../sync/ingest/types.ts';
import { assertContractVisible, type Actor } from './actors.ts';
import { accessTokenFor } from './access-tokens.ts';
import { recordAudit } from './audit.ts';
import { loadCandidate, updateCandidate, type PipelineJobs } from './candidates.ts';
import { loadContract } from './contracts.ts';
import type { MailboxDeps } from './mailbox-authorization.ts';
import { getMessage, type MessageView } from './messages.ts';

/**
 * Email Connect: a user emails a candidate through their seat's own mailbox. The message is composed
 * here (our Message-ID, so sync can match the copy it later finds in Sent), sent by the provider, and stored at
 * once as `sent_from_product` and `private`; a new thread counts as initiated through the product.
 */
export interface SendEmailInput {
  subject: string;
  bodyHtml?: string | undefined;
  bodyText?: string | undefined;
  to?: string | undefined;
  replyToMessageId?: string | undefined;
}

export async function sendEmail(deps: MailboxDeps, actor: Actor, candidateId: string, input: SendEmailInput, jobs?: PipelineJobs): Promise<MessageView> {
  const candidate = await loadCandidate(deps.db, actor, candidateId);
  assertContractVisible(actor, candidate.contract_id, 'candidate');
  if (actor.kind !== 'user') throw forbidden('Email is sent from a seat: act as the user who sends it (X-Act-As-User).');
  const seat = await deps.db.selectFrom('seats').select(['id']).where('user_id', '=', actor.userId).where('contract_id', '=', candidate.contract_id).executeTakeFirst();
  if (!seat) throw forbidden('You hold no seat, so there is no mailbox to send from.');

  // R-51, in the order a user can act on them.
  const contract = await loadContract(deps.db, candidate.contract_id);
  if (contract.status === 'suspended') throw new AppError('contract_suspended', 'This company is suspended: email cannot be sent.');
  if (!accessAllowsSending(contract.email_access)) {
    throw new AppError('send_not_allowed', `Sending from the product is turned off: your company's email access is "${contract.email_access === 'view' ? 'View only' : 'Off'}" (R-02, R-04). An admin can change it to "Send & view".`);
  }
  const grant = await deps.db.selectFrom('mailbox_authorizations').selectAll().where('seat_id', '=', seat.id).where('kind', '=', 'email').executeTakeFirst();
  if (!grant || grant.state === 'deauthorized') throw new AppError('not_authorized', 'Connect your mailbox first (My email & calendar): email is sent from your own mailbox.');
  if (grant.state === 'needs_reauthorization') throw new AppError('needs_reauthorization', `Reconnect your mailbox: ${grant.state_reason ?? 'the provider no longer accepts the connection.'}`);
  if (!scopesAllowSending(grant.provider, grant.scopes)) {
    throw new AppError('send_scope_missing', 'Your mailbox connection does not include the permission to send. Reconnect your mailbox (My email & calendar) to grant it.');
  }

  const recipient = await resolveRecipient(deps, actor, candidate.id, input.to, jobs);
  const reply = input.replyToMessageId ? await replyContext(deps, actor, input.replyToMessageId, candidate.id, seat.id) : null;
  const from = grant.address!;
  const rfcMessageId = `<${randomUUID()}@${domainOf(from) || 'recruiter-sync.invalid'}>`;
  const subject = reply && !/^re:/i.test(input.subject.trim()) ? `Re: ${input.subject.trim()}` : input.subject.trim();
  const raw = await new MailComposer({
    from,
    to: recipient,
    subject,
    messageId: rfcMessageId,
    date: deps.clock.now(),
    ...(input.bodyText !== undefined ? { text: input.bodyText } : {}),
    ...(input.bodyHtml !== undefined ? { html: input.bodyHtml } : {}),
    ...(reply ? { inReplyTo: reply.inReplyTo, references: reply.references } : {}),
  })
    .compile()
    .build();

  let sent;
  try {
    const token = await accessTokenFor(deps, grant.id);
    // sending draws on the mailbox's quota budget like sync does; an exhausted budget refuses with rate_limited.
    sent = await withMailboxBudget(deps, grant.provider, grant.address, grant.id, () => deps.providers.sender(grant.provider).send(token, { raw, providerThreadId: reply?.providerThreadId }));
  } catch (error) {
    throw sendingError(error);
  }

  const now = deps.clock.now();
  const mailbox = await loadSeatMailbox(deps.db, seat.id);
  const counterpart = normalizeAddress(recipient);
  const decision: MessageDecision = {
    ingested: true,
    rule: null,
    reason: 'Sent from the product (R-50).',
    summary: 'Sent from the product (R-50): stored at once, private to you.',
    facts: { origin: 'sent_from_product', counterpart, candidateId: candidate.id },
    counterpart,
    participants: [normalizeAddress(from), counterpart].sort(),
    candidateIds: [candidate.id],
    threadInitiatedThroughProduct: reply === null,
  };
  const stored = await deps.db.transaction().execute(async (trx) => {
    const result = await storeMessage(trx, {
      mailbox,
      facts: {
        // Until sync sees the provider's copy in Sent (matched by Message-ID), provisional ids stand in.
        providerMessageId: sent.providerMessageId ?? `sent:${rfcMessageId}`,
        providerThreadId: sent.providerThreadId ?? reply?.providerThreadId ?? `sent-thread:${rfcMessageId}`,
        from,
        to: recipient,
        date: now,
        isSpam: false,
        isDraft: false,
        isSent: true,
        rfcMessageId,
      },
      raw,
      decision,
      storedAt: now,
      origin: 'sent_from_product',
    });
    await recordAudit(trx, { contractId: candidate.contract_id, actor, action: 'email.sent', targetType: 'candidate', targetId: candidate.id, at: now, details: { seatId: seat.id, reply: reply !== null } });
    return result;
  });
  return getMessage(deps, actor, stored.messageId);
}

/**
 * the typed address is validated and saved on the candidate's profile when it is new; like any new address
 * of a pipeline candidate it gets a targeted backfill.
 */
async function resolveRecipient(deps: MailboxDeps, actor: Actor, candidateId: string, typed: string | undefined, jobs: PipelineJobs): Promise<string> {
  const emails = await deps.db.selectFrom('candidate_emails').select(['address', 'normalized']).where('candidate_id', '=', candidateId).orderBy('position').execute();
  if (typed === undefined) {
    if (emails.length === 0) throw validationFailed('to: this candidate has no email address yet; type one and it will be saved to the profile.', { field: 'to' });
    return emails[0]!.address;
  }
  const address = typed.trim();
  if (!isValidAddress(address)) throw validationFailed(`to: not a valid email address: ${address}`, { field: 'to' });
  const normalized = normalizeAddress(address);
  if (!emails.some((e) => e.normalized === normalized)) {
    await updateCandidate(deps, actor, candidateId, { emails: [...emails.map((e) => e.address), address] }, jobs);
    // Who typed it may remove it again; typing it again lifts an earlier removal.
    if (actor.kind === 'user') {
      await deps.db.updateTable('candidate_emails').set({ added_by_user_id: actor.userId }).where('candidate_id', '=', candidateId).where('normalized', '=', normalized).execute();
    }
    await deps.db.deleteFrom('candidate_email_removals').where('candidate_id', '=', candidateId).where('normalized', '=', normalized).execute();
  }
  return address;
}

export interface ProfileAddress {
  address: string;
  addedBy: { userId: string; name: string } | null;
  /** Whether the caller may remove it: they typed it in the product, or they are an admin. */
  removable: boolean;
}

/** The profile's addresses with who typed each in the product (none for the host system's) and whether the caller may remove it. */
export async function listCandidateEmails(deps: MailboxDeps, actor: Actor, candidateId: string): Promise<ProfileAddress[]> {
  const candidate = await loadCandidate(deps.db, actor, candidateId);
  assertContractVisible(actor, candidate.contract_id, 'candidate');
  const rows = await deps.db
    .selectFrom('candidate_emails as e')
    .leftJoin('users as u', 'u.id', 'e.added_by_user_id')
    .select(['e.address', 'e.added_by_user_id', 'u.name'])
    .where('e.candidate_id', '=', candidate.id)
    .orderBy('e.position')
    .execute();
  const isAdmin = actor.kind === 'user' && actor.role === 'admin';
  return rows.map((r) => ({
    address: r.address,
    addedBy: r.added_by_user_id ? { userId: r.added_by_user_id, name: r.name ?? '' } : null,
    removable: isAdmin || (actor.kind === 'user' && r.added_by_user_id === actor.userId),
  }));
}

/**
 * Removes an address from the candidate's profile: allowed to whoever typed it in the product or an admin.
 * The removal is recorded so that mail with the address stops syncing, even in a conversation the product
 * started with it, and the decision log says why. Mail already stored stays.
 */
export async function removeCandidateEmail(deps: MailboxDeps, actor: Actor, candidateId: string, address: string, jobs?: PipelineJobs): Promise<{ emails: string[] }> {
  const candidate = await loadCandidate(deps.db, actor, candidateId);
  assertContractVisible(actor, candidate.contract_id, 'candidate');
  const normalized = normalizeAddress(address);
  const emails = await deps.db.selectFrom('candidate_emails').select(['address', 'normalized', 'added_by_user_id']).where('candidate_id', '=', candidate.id).orderBy('position').execute();
  const row = emails.find((e) => e.normalized === normalized);
  if (!row) throw new AppError('not_found', 'This address is not on the candidate’s profile.');
  const isAdmin = actor.kind === 'user' && actor.role === 'admin';
  const isAdder = actor.kind === 'user' && row.added_by_user_id !== null && row.added_by_user_id === actor.userId;
  if (!isAdmin && !isAdder) throw forbidden('Only the person who added this address, or an admin, can remove it.');

  const remaining = emails.filter((e) => e.normalized !== normalized).map((e) => e.address);
  await updateCandidate(deps, actor, candidate.id, { emails: remaining }, jobs);
  const now = deps.clock.now();
  await deps.db.transaction().execute(async (trx) => {
    await trx.deleteFrom('candidate_email_removals').where('candidate_id', '=', candidate.id).where('normalized', '=', normalized).execute();
    await trx.insertInto('candidate_email_removals').values({ candidate_id: candidate.id, normalized, removed_at: now, removed_by_user_id: actor.kind === 'user' ? actor.userId : null }).execute();
    // No address in the audit (R-07 style): who, which candidate, and whether they had added it.
    await recordAudit(trx, { contractId: candidate.contract_id, actor, action: 'candidate.email_removed', targetType: 'candidate', targetId: candidate.id, at: now, details: { addedByActor: isAdder } });
  });
  return { emails: remaining };
}

async function replyContext(deps: MailboxDeps, actor: Actor & { kind: 'user' }, messageId: string, candidateId: string, seatId: string) {
  const row = await deps.db
    .selectFrom('mail_messages')
    .innerJoin('mail_threads', 'mail_threads.id', 'mail_messages.thread_id')
    .select(['mail_messages.rfc_message_id', 'mail_messages.references_ids', 'mail_messages.candidate_id', 'mail_messages.owner_seat_id', 'mail_threads.provider_thread_id'])
    .where('mail_messages.id', '=', messageId)
    .where(messageVisibleTo({ userId: actor.userId, contractId: actor.contractId }))
    .executeTakeFirst();
  if (!row) throw new AppError('not_found', 'The message to reply to was not found.');
  if (row.candidate_id !== candidateId) throw validationFailed('replyToMessageId: that message belongs to another candidate.', { field: 'replyToMessageId' });
  if (row.owner_seat_id !== seatId) throw validationFailed('replyToMessageId: a reply is sent from the mailbox that holds the conversation; this one is another seat’s.', { field: 'replyToMessageId' });
  const references = [...row.references_ids, ...(row.rfc_message_id ? [row.rfc_message_id] : [])];
  return {
    inReplyTo: row.rfc_message_id ?? undefined,
    references,
    // Provisional thread ids (a send not yet seen by sync) mean nothing to the provider.
    providerThreadId: row.provider_thread_id.startsWith('sent-thread:') ? undefined : row.provider_thread_id,
  };
}

/** Provider failures in the words and codes of API.md. */
function sendingError(error: unknown): unknown {
  if (!(error instanceof ProviderError)) return error;
  switch (error.kind) {
    case 'throttled':
      return new AppError('rate_limited', 'Your mailbox provider is limiting how much you can send right now. Try again later.', { retryAfterSeconds: error.details.retryAfterSeconds ?? 60 });
    case 'auth':
      return new AppError('needs_reauthorization', 'Your mailbox provider no longer accepts the connection. Reconnect your mailbox.');
    case 'consent':
      return new AppError('send_scope_missing', 'Your mailbox provider refused to send: the permission to send is missing. Reconnect your mailbox to grant it.');
    case 'transient':
      return new AppError('provider_unavailable', 'Your mailbox provider did not confirm the message. Check your Sent folder before trying again.', { retryAfterSeconds: 60 });
    default:
      return new AppError('validation_failed', `Your mailbox provider refused the message: ${error.message}`);
  }
}
