import type { EmailAccess, GrantState, Provider, SyncPhase, SyncStatus } from './api.ts';

/** Plain words for the API's codes: what a recruiter or an admin reads instead of identifiers. */

export const PROVIDER_NAMES: Record<Provider, string> = { google: 'Google Workspace', microsoft: 'Microsoft 365' };

export const ACCESS_NAMES: Record<EmailAccess, string> = { off: 'Off', view: 'View only', send_and_view: 'Send & view' };

export const ACCESS_DESCRIPTIONS: Record<EmailAccess, string> = {
  off: 'No email is synced, shown or sent. Every connected mailbox is disconnected.',
  view: 'Recruiters see their synced candidate email in the product. Sending from the product is refused.',
  send_and_view: 'Recruiters see synced email and can send email to candidates from the product.',
};

const ACCESS_RANK: Record<EmailAccess, number> = { off: 0, view: 1, send_and_view: 2 };
/** a change to a lower level deauthorizes every seat's email. */
export const isDowngrade = (from: EmailAccess, to: EmailAccess): boolean => ACCESS_RANK[to] < ACCESS_RANK[from];

export const STATE_LABELS: Record<GrantState, string> = {
  not_authorized: 'Not connected',
  authorized: 'Connected',
  needs_reauthorization: 'Needs reconnecting',
  deauthorized: 'Disconnected',
};

export const PHASE_LABELS: Record<SyncPhase, string> = {
  idle: 'Not syncing',
  historical: 'Importing past email',
  incremental: 'Up to date, watching for new email',
  paused: 'Paused',
};

const DEAUTH_REASON: Record<string, string> = {
  user_request: 'on request',
  access_level_downgrade: 'email access level lowered',
  provider_change: 'provider changed',
  seat_transferred: 'seat transferred',
  seat_parked: 'seat parked',
};

/** Why a grant ended or needs re-authorization. Deauthorizations carry a code; refusals carry a sentence. */
export function reasonText(reason: string | null, audience: 'holder' | 'admin' = 'holder'): string | null {
  if (!reason) return null;
  if (audience === 'admin') {
    const short = DEAUTH_REASON[reason];
    return short ? `Disconnected: ${short}.` : reason;
  }
  switch (reason) {
    case 'user_request':
      return 'Connect again whenever you want syncing to resume.';
    case 'access_level_downgrade':
      return 'Your admin lowered the company email access level, which disconnects every mailbox. Connect again to continue.';
    case 'provider_change':
      return 'Your company changed its email provider. Connect your mailbox at the new provider.';
    // A mailbox belongs to its person, not to the seat: the previous holder's connection ended with the transfer.
    case 'seat_transferred':
    case 'seat_parked':
      return 'This seat was reassigned, which disconnected the mailbox connected before. Connect your own mailbox to sync your email.';
    default:
      return reason;
  }
}

const SCOPE_WORDS: Record<string, string> = {
  openid: 'Confirm who you are',
  email: 'See your email address',
  profile: 'See your basic profile',
  offline_access: 'Stay connected without signing in again',
  'User.Read': 'See your basic profile',
  'https://www.googleapis.com/auth/userinfo.email': 'See your email address',
  'https://www.googleapis.com/auth/gmail.readonly': 'Read your email',
  'https://www.googleapis.com/auth/gmail.send': 'Send email on your behalf',
  'https://www.googleapis.com/auth/calendar.events': 'Create and change calendar events',
  'Mail.Read': 'Read your email',
  'Mail.Send': 'Send email on your behalf',
  'Calendars.ReadWrite': 'Create and change calendar events',
  'OnlineMeetings.ReadWrite': 'Create Teams meetings',
};

/** The permissions a grant holds, in plain words, without repeats (identity scopes overlap). */
export function scopeWords(scopes: string[]): string[] {
  const words = scopes.map((s) => SCOPE_WORDS[s.replace(/^https:\/\/graph\.microsoft\.com\//i, '')] ?? SCOPE_WORDS[s] ?? s);
  return [...new Set(words)];
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
export const formatDate = (iso: string | null | undefined): string => (iso ? dateFormat.format(new Date(iso)) : '—');

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
export const seats = (n: number) => plural(n, 'seat');
export const count = plural;


/** A candidate's email discovery setting in words (the candidate's own choice, set by the recruiting system). */
export const DISCOVERY_WORDS: Readonly<Record<string, string>> = {
  anyone: 'Anyone',
  second_degree: '1st and 2nd degree connections',
  first_degree: '1st degree connections only',
  nobody: 'Nobody',
};

export const VISIBILITY_LABELS = { private: 'Private', contract: 'Shared with the company' } as const;

/** What to do about each refusal of a send, beside the server's own message. */
export const SEND_FIXES: Record<string, { fix: string; settingsLink?: boolean }> = {
  send_not_allowed: { fix: 'Ask your admin to set the company email access to "Send & view".' },
  send_scope_missing: { fix: 'Reconnect your mailbox and grant the permission to send.', settingsLink: true },
  not_authorized: { fix: 'Connect your mailbox first: email is sent from your own mailbox.', settingsLink: true },
  needs_reauthorization: { fix: 'Reconnect your mailbox: the provider no longer accepts the connection.', settingsLink: true },
  contract_suspended: { fix: 'Your company is suspended. Email can be sent again once your recruiting system reactivates it.' },
  rate_limited: { fix: 'Wait a few minutes, then send again. Your draft is kept.' },
  provider_unavailable: { fix: 'Your mailbox provider did not answer. Try again in a moment. Your draft is kept.' },
  email_disabled: { fix: 'Ask your admin to turn email on for the company.' },
  calendar_disabled: { fix: 'Ask your admin to turn the calendar on for the company.' },
  provider_not_selected: { fix: 'Ask your admin to choose Google Workspace or Microsoft 365.' },
  consent_required: { fix: 'Reconnect your calendar; if it still fails, your IT admin must grant the calendar permission.', settingsLink: true },
};

export const CONFERENCING_NAMES = { google_meet: 'Google Meet', teams: 'Microsoft Teams', none: 'No video call' } as const;

/**
 * Text from the server without product rule ids: "Not synced (R-38, Spam and drafts): …" reads "Not synced (Spam
 * and drafts): …", "… ." reads "….". The ids stay in the API's machine-readable fields.
 */
export function withoutRuleIds(text: string): string {
  const RULE = /R-\d{2}(?:\/R-\d{2})?/;
  return text
    .replace(new RegExp(`\\s*\\((?:${RULE.source}(?:\\s*(?:,|…|and|or)\\s*)?)+\\)`, 'g'), '')
    .replace(new RegExp(`\\((?:${RULE.source}\\s*,\\s*)+`, 'g'), '(')
    .replace(new RegExp(`\\s*\\b${RULE.source}\\b:?`, 'g'), '')
    .replace(/\s+([.,:;])/g, '$1')
    .trim();
}

/** A sync decision in plain words: the server's summary, or a sentence made from the rule's title when it has none. */
export function decisionText(decision: { ingested: boolean; rule: string | null; detail: Record<string, unknown> }): string {
  const summary = typeof decision.detail.summary === 'string' ? decision.detail.summary : null;
  if (summary) return withoutRuleIds(summary);
  if (decision.ingested) return 'Synced.';
  // The rule's meaning, never its id (the id stays in the decision's machine-readable field).
  const title = typeof decision.detail.ruleTitle === 'string' ? decision.detail.ruleTitle : null;
  return title ? `Not synced: ${title}.` : 'Not synced.';
}

const timeFormat = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });
/** Short time for lists: the hour today, the date otherwise. */
export function shortDate(iso: string, now: Date = new Date()): string {
  const date = new Date(iso);
  return date.toDateString() === now.toDateString() ? timeFormat.format(date) : formatDate(iso);
}

/**
 * The server's one word for a mailbox's sync, the same on the seat's page and in the admin's sync health, in plain
 * words: "Up to date" only when mail was read from the mailbox within the last ten minutes without error (the server
 * decides); otherwise when it was last read.
 */
export function syncStatusText(sync: { status?: SyncStatus; phase: SyncPhase; lastSyncedAt: string | null }): string {
  switch (sync.status) {
    case 'reconnect_needed':
      return 'Reconnect needed';
    case 'up_to_date':
      return 'Up to date';
    case 'behind':
      return sync.lastSyncedAt ? `Behind, last read ${formatDate(sync.lastSyncedAt)}` : 'Behind, not read yet';
    case 'historical':
      return 'Importing past email';
    case 'starting':
      return 'Starting';
    case 'disconnected':
      return 'Disconnected';
    case 'not_connected':
      return 'Not connected';
    default:
      return sync.phase === 'historical' ? 'Importing past email' : sync.phase === 'idle' ? 'Not syncing' : 'Behind';
  }
}

/**
 * Why the provider refused a grant, in plain words (the server's sentence names the provider and its own message).
 * Anything else is shown as `reasonText` words it.
 */
export function refusalText(reason: string | null): string | null {
  if (!reason) return null;
  const refused = /^(Google|Microsoft) refused/.exec(reason);
  if (!refused) return reasonText(reason);
  return `${refused[1]} no longer accepts this connection: access was revoked, the password changed, or your IT admin removed the app. Reconnect to continue; email already synced is kept.`;
}
