import type { AuditEntry, EmailAccess, Provider } from './api.ts';
import { ACCESS_NAMES, DISCOVERY_WORDS, PROVIDER_NAMES, count, seats } from './words.ts';

/**
 * The audit log in sentences (R-07): who did what to whom, by name. The server resolves the names (a thread's
 * subject only while it is shared with the company); one builder per action the server writes.
 */

/** What each action is called in the log's action filter, in the order the filter lists them. */
export const AUDIT_ACTIONS: Readonly<Record<string, string>> = {
  'settings.changed': 'Settings changed',
  'authorization.granted': 'Mailbox or calendar connected',
  'authorization.reauthorized': 'Mailbox or calendar reconnected',
  'authorization.deauthorized': 'Mailbox or calendar disconnected',
  'authorization.failed': 'Connecting failed',
  'authorization.needs_reauthorization': 'Connection needs renewing',
  'authorization.revocation_abandoned': 'Revoking a connection gave up',
  'push.stop_abandoned': 'Stopping notifications gave up',
  'seat.created': 'Seat created',
  'seat.transferred': 'Seat transferred',
  'seat.parked': 'Seat parked',
  'seat.exported': 'Messages exported',
  'user.created': 'User added',
  'thread.visibility_changed': 'Thread shared or made private',
  'message.visibility_changed': 'Message shared or made private',
  'email.sent': 'Email sent',
  'interview.scheduled': 'Interview scheduled',
  'interview.rescheduled': 'Interview rescheduled',
  'interview.cancelled': 'Interview cancelled',
  'candidate.discovery_changed': 'Candidate email discovery changed',
  'candidate.email_removed': 'Candidate address removed',
  'mail.inactive_threads_purged': 'Inactive email deleted',
  'integration.token_created': 'Integration token created',
  'integration.acted_as': 'Integration acted as a user',
  'contract.created': 'Company created',
  'contract.updated': 'Company details changed',
  'contract.suspended': 'Company suspended',
  'contract.reactivated': 'Company reactivated',
};

/** An audit entry as the API returns it, with the names it resolved. */
export type AuditEntryView = AuditEntry & {
  actorName?: string | null;
  actorTokenId?: string | null;
  targetName?: string | null;
  userNames?: Record<string, string>;
};

const str = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);
const num = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);
const quoted = (text: string) => `“${text}”`;
const providerName = (value: unknown): string | null => {
  const p = str(value);
  return p ? (PROVIDER_NAMES[p as Provider] ?? p) : null;
};

/** Who did it: a person by name, an integration, or the product itself. */
export function actorPhrase(e: AuditEntryView): string {
  if (e.actorKind === 'system') return 'recruiter-sync';
  if (e.actorKind === 'integration' && !e.actorUserId) return 'An integration';
  const name = e.actorName ?? 'A former user';
  // An integration acting as the user (R-63): the person, and that it was not them at the keyboard.
  return e.actorTokenId ? `${name} (through an integration)` : name;
}

/** Whose mailbox: "their" when the actor acts on their own seat, else the holder's name. */
function whose(e: AuditEntryView): string {
  const holder = e.targetName ?? null;
  if (holder && e.actorName && holder === e.actorName && e.actorKind === 'user') return 'their';
  return holder ? `${holder}’s` : 'a seat’s';
}

const thing = (kind: unknown) => (kind === 'calendar' ? 'calendar' : 'mailbox');
const at = (provider: unknown) => {
  const name = providerName(provider);
  return name ? ` at ${name}` : '';
};

const DEAUTH_REASONS: Record<string, string> = {
  user_request: 'on request',
  access_level_downgrade: 'because the email access level was lowered',
  provider_change: 'because the email provider changed',
  seat_transferred: 'because the seat was transferred',
  seat_parked: 'because the seat was parked',
};

const SETTING_ORDER = ['emailProvider', 'emailAccess', 'calendarEnabled', 'allowExternalMailboxes'];
function settingChange(key: string, from: unknown, to: unknown): string {
  switch (key) {
    case 'emailProvider':
      return `the email provider from ${providerName(from) ?? 'none'} to ${providerName(to) ?? 'none'}`;
    case 'emailAccess':
      return `email access from ${ACCESS_NAMES[from as EmailAccess] ?? String(from)} to ${ACCESS_NAMES[to as EmailAccess] ?? String(to)}`;
    case 'calendarEnabled':
      return `the calendar from ${from ? 'On' : 'Off'} to ${to ? 'On' : 'Off'}`;
    case 'allowExternalMailboxes':
      return `mailboxes outside the company domains from ${from ? 'Allowed' : 'Not allowed'} to ${to ? 'Allowed' : 'Not allowed'}`;
    default:
      return `${key} from ${String(from)} to ${String(to)}`;
  }
}

const list = (parts: string[]) => (parts.length <= 1 ? (parts[0] ?? '') : `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`);

type Builder = (e: AuditEntryView, actor: string, d: Record<string, unknown>) => string;

const BUILDERS: Record<string, Builder> = {
  'settings.changed': (_e, actor, d) => {
    const changes = (d.changes ?? {}) as Record<string, { from: unknown; to: unknown }>;
    // Stored as JSON whose key order is not kept: the settings in the order of the page.
    const rank = (k: string) => (SETTING_ORDER.includes(k) ? SETTING_ORDER.indexOf(k) : 99);
    const parts = Object.entries(changes)
      .sort(([a], [b]) => rank(a) - rank(b))
      .map(([k, c]) => settingChange(k, c.from, c.to));
    const n = num(d.deauthorizedSeats);
    return `${actor} changed ${parts.length > 0 ? list(parts) : 'the settings'}${n > 0 ? `, which disconnected ${seats(n)}` : ''}`;
  },
  'authorization.granted': (e, actor, d) => `${actor} connected ${whose(e)} ${thing(d.kind)}${at(d.provider)}`,
  'authorization.reauthorized': (e, actor, d) => `${actor} reconnected ${whose(e)} ${thing(d.kind)}${at(d.provider)}`,
  'authorization.deauthorized': (e, actor, d) => {
    const reason = str(d.reason);
    return `${actor} disconnected ${whose(e)} ${thing(d.kind)}${at(d.provider)}${reason ? ` ${DEAUTH_REASONS[reason] ?? `(${reason.replace(/_/g, ' ')})`}` : ''}`;
  },
  'authorization.failed': (e, actor, d) => {
    const code = str(d.code);
    return `${actor} tried to connect ${whose(e)} ${thing(d.kind)}, which failed${code ? ` (${code.replace(/_/g, ' ')})` : ''}`;
  },
  'authorization.needs_reauthorization': (e, _actor, d) =>
    `${providerName(d.provider) ?? 'The provider'} stopped accepting ${whose(e)} mailbox connection: it needs reconnecting`,
  'authorization.revocation_abandoned': (e, actor, d) =>
    `${actor} gave up revoking ${whose(e)} ended connection${at(d.provider)} after ${count(num(d.attempts), 'attempt')}`,
  'push.stop_abandoned': (_e, actor, d) => `${actor} gave up stopping new-mail notifications of an ended connection${at(d.provider)} after ${count(num(d.attempts), 'attempt')}`,
  'seat.created': (e, actor, d) => {
    const holder = str(d.userId) ? (e.userNames?.[d.userId as string] ?? 'a former user') : null;
    return holder ? `${actor} gave ${holder} a seat` : `${actor} created a parked seat`;
  },
  'seat.transferred': (e, actor, d) => {
    const from = str(d.fromUserId) ? (e.userNames?.[d.fromUserId as string] ?? 'a former user') : null;
    const to = str(d.toUserId) ? (e.userNames?.[d.toUserId as string] ?? 'a former user') : 'nobody';
    const ended = Array.isArray(d.deauthorized) ? d.deauthorized.length : 0;
    return `${actor} transferred ${from ? `${from}’s seat` : 'a parked seat'} to ${to}${ended > 0 && from ? `, which ended ${from}’s mailbox connection` : ''}`;
  },
  'seat.parked': (e, actor, d) => {
    const from = str(d.fromUserId) ? (e.userNames?.[d.fromUserId as string] ?? 'a former user') : null;
    const ended = Array.isArray(d.deauthorized) ? d.deauthorized.length : 0;
    return `${actor} parked ${from ? `${from}’s seat` : 'a seat'}${ended > 0 && from ? `, which ended ${from}’s mailbox connection` : ''}`;
  },
  'seat.exported': (_e, actor, d) => `${actor} exported ${count(num(d.messages), 'message')}`,
  'user.created': (e, actor, d) => `${actor} added ${e.targetName ?? 'a user'} as ${d.role === 'admin' ? 'an admin' : 'a recruiter'}`,
  'thread.visibility_changed': (e, actor, d) =>
    d.to === 'contract' && e.targetName ? `${actor} shared the thread ${quoted(e.targetName)} with the company` : d.to === 'contract' ? `${actor} shared a thread with the company` : `${actor} made a thread private`,
  'message.visibility_changed': (e, actor, d) =>
    d.to === 'contract' && e.targetName ? `${actor} shared the message ${quoted(e.targetName)} with the company` : d.to === 'contract' ? `${actor} shared a message with the company` : `${actor} made a message private`,
  'email.sent': (e, actor, d) => `${actor} ${d.reply ? 'replied to' : 'emailed'} ${e.targetName ?? 'a candidate'}`,
  'interview.scheduled': (e, actor) => `${actor} scheduled a screening interview with ${e.targetName ?? 'a candidate'}`,
  'interview.rescheduled': (e, actor) => `${actor} rescheduled the screening interview with ${e.targetName ?? 'a candidate'}`,
  'interview.cancelled': (e, actor) => `${actor} cancelled the screening interview with ${e.targetName ?? 'a candidate'}`,
  'candidate.email_removed': (e, actor) => `${actor} removed an email address from the profile of ${e.targetName ?? 'a candidate'}; mail with it is no longer synced`,
  'candidate.discovery_changed': (e, actor, d) =>
    `${actor} changed who may find ${e.targetName ? `${e.targetName}’s` : 'a candidate’s'} email from ${DISCOVERY_WORDS[String(d.from)] ?? String(d.from)} to ${DISCOVERY_WORDS[String(d.to)] ?? String(d.to)}`,
  'mail.inactive_threads_purged': (_e, actor, d) => `${actor} deleted ${count(num(d.threads), 'thread')} (${count(num(d.messages), 'message')}) without recent activity`,
  'integration.token_created': (_e, actor, d) => `${actor} created an integration token${str(d.purpose) ? ` for ${quoted(d.purpose as string)}` : ''}`,
  'integration.acted_as': (e, _actor, d) => `An integration acted as ${e.targetName ?? 'a user'}${str(d.reason) ? `: ${quoted(d.reason as string)}` : ''}`,
  'contract.created': (_e, actor) => `${actor} created the company`,
  'contract.updated': (_e, actor, d) => {
    const domains = Array.isArray(d.companyDomains) ? d.companyDomains.filter((x): x is string => typeof x === 'string') : [];
    return `${actor} changed the company details${str(d.name) ? ` to ${quoted(d.name as string)}` : ''}${domains.length > 0 ? ` with the domains ${domains.join(', ')}` : ''}`;
  },
  'contract.suspended': (_e, actor) => `${actor} suspended the company, which deleted its email and calendar data`,
  'contract.reactivated': (_e, actor) => `${actor} reactivated the company`,
};

/** One audit entry as one sentence. An action this UI does not know yet is named in words, never dumped. */
export function auditSentence(entry: AuditEntryView): string {
  const actor = actorPhrase(entry);
  const builder = BUILDERS[entry.action];
  if (builder) return builder(entry, actor, entry.details ?? {});
  return `${actor}: ${entry.action.replace(/[._]/g, ' ')}`;
}
