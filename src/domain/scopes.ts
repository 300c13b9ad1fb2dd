import type { AuthorizationKind, EmailAccess, Provider } from './types.ts';

/**
 * R-10 least privilege: the OAuth scopes a seat asks for follow the access level and the kind of grant.
 * Identity scopes (address of the mailbox) are part of every request; nothing broader is ever requested.
 */
export const SCOPES = {
  google: {
    identity: ['openid', 'email'],
    read: ['https://www.googleapis.com/auth/gmail.readonly'],
    send: ['https://www.googleapis.com/auth/gmail.send'],
    calendar: ['https://www.googleapis.com/auth/calendar.events'],
  },
  microsoft: {
    identity: ['openid', 'email', 'offline_access', 'User.Read'],
    read: ['Mail.Read'],
    send: ['Mail.Send'],
    // Teams meetings are created on the event itself (`isOnlineMeeting`), which Calendars.ReadWrite covers:
    // OnlineMeetings.ReadWrite would add standalone meetings the product never creates.
    calendar: ['Calendars.ReadWrite'],
  },
} as const satisfies Record<Provider, Record<string, readonly string[]>>;

export function scopesFor(provider: Provider, kind: AuthorizationKind, level: EmailAccess): string[] {
  const table = SCOPES[provider];
  if (kind === 'calendar') return [...table.identity, ...table.calendar];
  if (level === 'off') return [];
  return [...table.identity, ...table.read, ...(level === 'send_and_view' ? table.send : [])];
}

/** Scopes that let a token send mail, including broader ones an IT admin may have granted. */
const SEND_CAPABLE: Record<Provider, readonly string[]> = {
  google: [
    'https://www.googleapis.com/auth/gmail.send',
    'https://www.googleapis.com/auth/gmail.compose',
    'https://www.googleapis.com/auth/gmail.modify',
    'https://mail.google.com/',
  ],
  microsoft: ['Mail.Send', 'Mail.Send.Shared'],
};

export function scopesAllowSending(provider: Provider, granted: readonly string[]): boolean {
  const normalized = granted.map((s) => normalizeScope(provider, s));
  return SEND_CAPABLE[provider].some((s) => normalized.includes(normalizeScope(provider, s)));
}

// Graph scopes come back as `https://graph.microsoft.com/Mail.Send` or `Mail.Send`, case-insensitively.
function normalizeScope(provider: Provider, scope: string): string {
  if (provider === 'microsoft') return scope.replace(/^https:\/\/graph\.microsoft\.com\//i, '').toLowerCase();
  return scope;
}
