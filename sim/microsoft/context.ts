import type { MsCorePort } from './port.ts';
import type { CalendarEvent, MicrosoftState } from './state.ts';

/** What every Microsoft route module receives. */
export interface MsContext {
  core: MsCorePort;
  ms: MicrosoftState;
  /** Evaluates time-driven subscription lifecycles (expiry, reauthorization) against the sim clock. */
  tick(): void;
  /** The user's sessions were revoked: subscriptions need reauthorization. */
  onSessionsRevoked(address: string): void;
  onEventChange(address: string, type: 'created' | 'updated' | 'deleted', event: CalendarEvent): void;
}

/** Scopes the identity platform never asks an IT admin about. */
export const OIDC_SCOPES = new Set(['openid', 'profile', 'email', 'offline_access']);

/** `https://graph.microsoft.com/Mail.Read` and `mail.read` both name Graph's `Mail.Read`. */
export function normalizeScope(scope: string): string {
  const short = scope.replace(/^https:\/\/graph\.microsoft\.com\//i, '');
  const known = KNOWN_SCOPES.find((k) => k.toLowerCase() === short.toLowerCase());
  return known ?? short;
}

const KNOWN_SCOPES = [
  'openid', 'profile', 'email', 'offline_access',
  'User.Read', 'User.ReadBasic.All', 'User.ReadWrite', 'User.Read.All', 'User.ReadWrite.All', 'User.RevokeSessions.All',
  'Mail.Read', 'Mail.ReadBasic', 'Mail.ReadWrite', 'Mail.Send', 'Mail.Send.Shared', 'Mail.Read.Shared', 'Mail.ReadWrite.Shared',
  'Calendars.Read', 'Calendars.ReadWrite', 'Calendars.ReadBasic', 'OnlineMeetings.ReadWrite', 'OnlineMeetings.Read',
  'MailboxSettings.Read', 'MailboxSettings.ReadWrite', 'Contacts.Read',
];

export function hasAnyScope(granted: readonly string[], ...needed: string[]): boolean {
  const set = new Set(granted.map((s) => s.toLowerCase()));
  return needed.some((n) => set.has(n.toLowerCase()));
}

export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}
