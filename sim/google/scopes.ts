/** Google OAuth scopes as the token endpoint reports them, and which scopes each API method accepts. */

const G = 'https://www.googleapis.com/auth/';

/** Short aliases Google expands in responses (`email` → `…/userinfo.email`). */
export function normalizeScope(scope: string): string {
  if (scope === 'email') return `${G}userinfo.email`;
  if (scope === 'profile') return `${G}userinfo.profile`;
  return scope;
}

/** Identity scopes are never subject to the Workspace admin's API access controls. */
export const IDENTITY_SCOPES = new Set(['openid', `${G}userinfo.email`, `${G}userinfo.profile`]);

export const KNOWN_SCOPES = new Set([
  ...IDENTITY_SCOPES,
  'https://mail.google.com/',
  `${G}gmail.readonly`,
  `${G}gmail.metadata`,
  `${G}gmail.modify`,
  `${G}gmail.compose`,
  `${G}gmail.send`,
  `${G}gmail.insert`,
  `${G}gmail.labels`,
  `${G}gmail.settings.basic`,
  `${G}gmail.settings.sharing`,
  `${G}calendar`,
  `${G}calendar.readonly`,
  `${G}calendar.events`,
  `${G}calendar.events.readonly`,
]);

const READ = ['https://mail.google.com/', `${G}gmail.readonly`, `${G}gmail.modify`];
export const SCOPES_FOR = {
  read: READ,
  readOrMetadata: [...READ, `${G}gmail.metadata`],
  send: ['https://mail.google.com/', `${G}gmail.send`, `${G}gmail.compose`, `${G}gmail.modify`],
  profile: [...READ, `${G}gmail.metadata`, `${G}gmail.compose`, `${G}gmail.send`, `${G}gmail.labels`, `${G}gmail.insert`],
  labels: [...READ, `${G}gmail.metadata`, `${G}gmail.labels`],
  settings: [...READ, `${G}gmail.settings.basic`],
  calendarWrite: [`${G}calendar`, `${G}calendar.events`],
  calendarRead: [`${G}calendar`, `${G}calendar.events`, `${G}calendar.readonly`, `${G}calendar.events.readonly`],
  userinfo: ['openid', `${G}userinfo.email`, `${G}userinfo.profile`],
} as const;

export const METADATA_SCOPE = `${G}gmail.metadata`;

export function hasAny(granted: readonly string[], accepted: readonly string[]): boolean {
  return accepted.some((s) => granted.includes(s));
}
