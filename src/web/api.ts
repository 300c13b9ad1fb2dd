/**
 * The browser's client of the recruiter-sync API (same origin: the session cookie goes along by itself).
 * Every state-changing request carries the CSRF token from the session response as `X-CSRF-Token`.
 * Non-2xx answers become an ApiError with the server's `{error: {code, message}}`, shown to the user as is.
 */

import { withoutRuleIds } from './words.ts';

export type Role = 'admin' | 'recruiter';
export type Provider = 'google' | 'microsoft';
export type EmailAccess = 'off' | 'view' | 'send_and_view';
export type GrantState = 'not_authorized' | 'authorized' | 'needs_reauthorization' | 'deauthorized';
export type AuthorizationKind = 'email' | 'calendar';
export type SyncPhase = 'idle' | 'historical' | 'incremental' | 'paused';

export interface User {
  id: string;
  contractId: string;
  email: string;
  name: string;
  role: Role;
  seatId: string | null;
}

export interface Session {
  user: User;
  csrfToken: string;
  expiresAt?: string;
}

/** The local demo's seeded sign-ins (only the demo sends them). */
export interface DemoLogins {
  password: string;
  logins: Array<{ email: string; name: string; role: Role }>;
}

export interface Contract {
  id: string;
  name: string;
  status: 'active' | 'suspended';
  companyDomains: string[];
  createdAt: string;
}

export interface Notice {
  code: string;
  rule: string;
  message: string;
  seatIds?: string[];
}

export interface Settings {
  emailProvider: Provider | null;
  emailAccess: EmailAccess;
  calendarEnabled: boolean;
  allowExternalMailboxes: boolean;
  notices: Notice[];
}

export type SettingsChange = Partial<Pick<Settings, 'emailProvider' | 'emailAccess' | 'calendarEnabled' | 'allowExternalMailboxes'>>;

export interface SeatHealth {
  seatId: string;
  userId: string | null;
  userName: string | null;
  email: { state: GrantState; address: string | null; reason: string | null };
  calendar: { state: GrantState; address: string | null; reason: string | null };
  sync: {
    phase: SyncPhase;
    messagesIngested: number;
    messagesExamined: number;
    progress: number | null;
    lastSyncedAt: string | null;
    lastError: string | null;
    status: SyncStatus;
  };
}

export interface AuditEntry {
  id: number;
  at: string;
  actorKind: string;
  actorUserId: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  details: Record<string, unknown>;
}

export interface AuditPage {
  entries: AuditEntry[];
  nextCursor: string | null;
}

export interface Warning {
  code: string;
  rule: string;
  message: string;
}

export interface Grant {
  state: GrantState;
  provider: Provider | null;
  address: string | null;
  aliases: string[];
  scopes: string[];
  canSend: boolean;
  warnings: Warning[];
  reason: string | null;
  firstAuthorizedAt: string | null;
  lastAuthorizedAt: string | null;
  deauthorizedAt: string | null;
}

export interface SyncState {
  phase: SyncPhase;
  messagesIngested: number;
  messagesExamined: number;
  progress: number | null;
  estimatedCompletionAt: string | null;
  lastSyncedAt: string | null;
  lastError: string | null;
  /** The same word on the seat's page and in sync health: up_to_date only when mail was read within 10 minutes. */
  status: SyncStatus;
  /** When the provider last accepted the connection (a sync or the health probe). */
  lastCheckedAt: string | null;
}

export type SyncStatus = 'not_connected' | 'disconnected' | 'reconnect_needed' | 'starting' | 'historical' | 'up_to_date' | 'behind';

export interface Mailbox {
  email: Grant & { sync: SyncState };
  calendar: Grant;
}

export interface Project {
  id: string;
  contractId: string;
  name: string;
  status: 'active' | 'closed';
  candidateIds: string[];
}

export interface Candidate {
  id: string;
  contractId: string;
  name: string;
  emails: string[];
  emailDiscovery: 'anyone' | 'second_degree' | 'first_degree' | 'nobody';
  inPipeline: boolean;
  projectIds: string[];
}

export interface MessagePreview {
  count: number;
  latest: { subject: string; snippet: string; sentAt: string } | null;
}

export type Visibility = 'private' | 'contract';

export interface Message {
  id: string;
  threadId: string;
  candidateId: string | null;
  direction: 'inbound' | 'outbound';
  from: string;
  fromName: string | null;
  to: string[];
  cc: string[];
  subject: string;
  sentAt: string;
  snippet: string;
  /** Sanitised by the server; still rendered only inside a sandboxed frame. */
  bodyHtml: string | null;
  bodyText: string | null;
  visibility: Visibility;
  origin: 'synced' | 'sent_from_product';
  ownerSeatId: string;
  isOwner: boolean;
  attachments: Attachment[];
}

export interface Attachment {
  id: string;
  filename: string;
  contentType: string;
  sizeBytes: number;
}

export interface Thread {
  threadId: string;
  subject: string;
  lastActivityAt: string;
  visibility: Visibility;
  messages: Message[];
}

export interface Decision {
  /** Null when the rules were applied to the address itself (no examined email carried it). */
  providerMessageId: string | null;
  threadId: string | null;
  providerThreadId: string | null;
  decidedAt: string;
  ingested: boolean;
  rule: string | null;
  detail: Record<string, unknown>;
}

export interface NewEmail {
  subject: string;
  bodyText: string;
  to?: string;
  replyToMessageId?: string;
}

export type Conferencing = 'google_meet' | 'teams' | 'none';

/** A scheduled screening, as its scheduler sees it. */
export interface Screening {
  id: string;
  candidateId: string;
  title: string;
  start: string;
  end: string;
  conferencing: Conferencing;
  joinUrl: string | null;
  scheduledBy: { userId: string | null; name: string | null };
}

export interface NewInterview {
  title: string;
  description?: string;
  start: string;
  end: string;
  conferencing: Conferencing;
}



/** A refused request, with the server's code and its message meant for people. */
export class ApiError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(status: number, code: string, message: string) {
    // People read what a rule means; the API's messages may still name rule ids, which mean nothing to them.
    super(withoutRuleIds(message));
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

let csrfToken: string | null = null;
const unauthenticatedListeners = new Set<() => void>();

/** Called when the server says the session is gone, so the app can show the sign-in screen again. */
export function onUnauthenticated(listener: () => void): () => void {
  unauthenticatedListeners.add(listener);
  return () => unauthenticatedListeners.delete(listener);
}

async function request<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let response: Response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network_error', 'The server could not be reached. Check your connection and try again.');
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // A proxy's HTML error page, for instance: reported below with the status only.
  }
  if (!response.ok) {
    const error = (parsed as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    const code = typeof error?.code === 'string' ? error.code : 'http_error';
    const message = typeof error?.message === 'string' ? error.message : `The server answered ${response.status} ${response.statusText}.`;
    if (code === 'unauthenticated' && path !== '/session') unauthenticatedListeners.forEach((listener) => listener());
    throw new ApiError(response.status, code, message);
  }
  return parsed as T;
}

const q = (params: Record<string, string | number | undefined>): string => {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined) search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
};

export const api = {
  async signIn(email: string, password: string): Promise<Session> {
    const session = await request<Session>('POST', '/session', { email, password });
    csrfToken = session.csrfToken;
    return session;
  },
  /** The current session, or null when nobody is signed in. */
  async session(): Promise<Session | null> {
    return (await api.probe()).session;
  },
  /** The session and, signed out in the local demo, its sign-ins. Signed out answers 200: no error in the console. */
  async probe(): Promise<{ session: Session | null; demo: DemoLogins | null }> {
    const answer = await request<Session | { user: null; demo?: DemoLogins }>('GET', '/session');
    if (answer.user === null) return { session: null, demo: 'demo' in answer ? (answer.demo ?? null) : null };
    csrfToken = answer.csrfToken;
    return { session: answer, demo: null };
  },
  async signOut(): Promise<void> {
    try {
      await request<void>('DELETE', '/session');
    } finally {
      csrfToken = null;
    }
  },
  contract: (contractId: string) => request<Contract>('GET', `/contracts/${contractId}`),
  users: (contractId: string) => request<User[]>('GET', `/contracts/${contractId}/users`),
  settings: (contractId: string) => request<Settings>('GET', `/contracts/${contractId}/settings`),
  updateSettings: (contractId: string, change: SettingsChange) =>
    request<Settings & { deauthorizedSeats: number }>('PUT', `/contracts/${contractId}/settings`, change),
  syncHealth: (contractId: string) => request<SeatHealth[]>('GET', `/contracts/${contractId}/sync-health`),
  audit: (contractId: string, page: { limit?: number; before?: string | undefined; actorUserId?: string | undefined; action?: string | undefined } = {}) =>
    request<AuditPage>('GET', `/contracts/${contractId}/audit${q({ limit: page.limit, before: page.before, actorUserId: page.actorUserId, action: page.action })}`),
  mailbox: (seatId: string) => request<Mailbox>('GET', `/seats/${seatId}/mailbox`),
  startAuthorization: (seatId: string, kind: AuthorizationKind, redirectAfter: string) =>
    request<{ authorizationUrl: string }>('POST', `/seats/${seatId}/authorizations`, { kind, redirectAfter }),
  disconnect: (seatId: string, kind: AuthorizationKind) => request<Grant>('DELETE', `/seats/${seatId}/authorizations/${kind}`),
  projects: (contractId: string) => request<Project[]>('GET', `/contracts/${contractId}/projects`),
  candidates: (contractId: string, search: { q?: string | undefined; projectId?: string | undefined; limit?: number } = {}) =>
    request<Candidate[]>('GET', `/contracts/${contractId}/candidates${q({ q: search.q, projectId: search.projectId, limit: search.limit })}`),
  candidate: (candidateId: string) => request<Candidate>('GET', `/candidates/${candidateId}`),
  messagePreviews: (candidateIds: string[]) =>
    request<Record<string, MessagePreview>>('GET', `/pipeline/message-previews${q({ candidateIds: candidateIds.join(',') })}`),
  /** A download link (the session cookie goes along; the server answers with Content-Disposition: attachment). */
  attachmentUrl: (messageId: string, attachmentId: string) => `/api/v1/messages/${encodeURIComponent(messageId)}/attachments/${encodeURIComponent(attachmentId)}`,
  /** A remote image of a message, fetched by the product's image proxy (never by the browser from the sender). */
  messageImageUrl: (messageId: string, address: string) => `/api/v1/messages/${encodeURIComponent(messageId)}/images?url=${encodeURIComponent(address)}`,
  candidateMessages: (candidateId: string) => request<Thread[]>('GET', `/candidates/${candidateId}/messages`),
  setMessageVisibility: (messageId: string, visibility: Visibility) => request<Message>('PATCH', `/messages/${messageId}`, { visibility }),
  setThreadVisibility: (threadId: string, visibility: Visibility) =>
    request<{ threadId: string; visibility: Visibility; messagesChanged: number }>('PATCH', `/threads/${threadId}`, { visibility }),
  sendEmail: (candidateId: string, email: NewEmail) => request<Message>('POST', `/candidates/${candidateId}/emails`, email),
  decisions: (seatId: string, address: string) => request<Decision[]>('GET', `/seats/${seatId}/sync/decisions${q({ address })}`),
  scheduleInterview: (candidateId: string, interview: NewInterview) =>
    request<{ id: string; eventId: string; joinUrl?: string }>('POST', `/candidates/${candidateId}/interviews`, interview),
  interviews: (candidateId: string) => request<{ interviews: Screening[] }>('GET', `/candidates/${candidateId}/interviews`).then((r) => r.interviews),
  rescheduleInterview: (id: string, times: { start: string; end: string }) => request<Screening>('PATCH', `/interviews/${id}`, times),
  cancelInterview: (id: string) => request<void>('DELETE', `/interviews/${id}`),
  candidateEmails: (candidateId: string) =>
    request<{ emails: Array<{ address: string; addedBy: { userId: string; name: string } | null; removable: boolean }> }>('GET', `/candidates/${candidateId}/emails`).then((r) => r.emails),
  removeCandidateEmail: (candidateId: string, address: string) =>
    request<{ emails: string[] }>('DELETE', `/candidates/${candidateId}/emails/${encodeURIComponent(address)}`),
  /**
   * The R-71 export as a file to save: a .zip (messages.json plus one .eml per message) streamed by the server,
   * saved under the name it gives; its message count (a header) for the UI.
   */
  async exportMessages(seatId: string): Promise<{ blob: Blob; filename: string; messages: number }> {
    let response: Response;
    try {
      response = await fetch(`/api/v1/seats/${seatId}/export`, { credentials: 'same-origin', headers: { accept: 'application/zip, application/json' } });
    } catch {
      throw new ApiError(0, 'network_error', 'The server could not be reached. Check your connection and try again.');
    }
    if (!response.ok) {
      const error = ((await response.json().catch(() => undefined)) as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new ApiError(response.status, error?.code ?? 'http_error', error?.message ?? `The server answered ${response.status} ${response.statusText}.`);
    }
    const filename = /filename="([^"]+)"/.exec(response.headers.get('content-disposition') ?? '')?.[1] ?? `recruiter-sync-export-${seatId}.zip`;
    return { blob: await response.blob(), filename, messages: Number(response.headers.get('x-export-messages') ?? 0) };
  },
};

/** What to show for any failure: the server's message, or a plain fallback. */
export const errorMessage = (error: unknown): string =>
  error instanceof ApiError ? error.message : error instanceof Error ? error.message : 'Something went wrong.';
