import type { GraphFolder } from './ids.ts';

/**
 * Microsoft-only simulator state: the identity platform's codes and tokens, Graph subscriptions, calendar
 * events, drafts and configuration. Kept beside (not inside) the provider-neutral SimState because the token
 * formats and lifecycles are Microsoft's own.
 */

export interface MsConfig {
  accessTokenLifetimeSeconds: number;
  authorizationCodeLifetimeSeconds: number;
  /** Refresh tokens expire after this much inactivity (AADSTS700082); 90 days at Microsoft. */
  refreshTokenInactivitySeconds: number;
  /** How long a delta/skip token stays usable before 410 SyncStateNotFound. */
  deltaTokenLifetimeSeconds: number;
  /** Cap of a `$filter=receivedDateTime ge …` initial delta round. */
  deltaFilterCap: number;
  defaultDeltaPageSize: number;
  maxDeltaPageSize: number;
  /** Longest subscription on Outlook messages and events. */
  maxSubscriptionMinutes: number;
  /** reauthorizationRequired is sent this long before a subscription expires. */
  reauthorizationLeadMinutes: number;
  validationTimeoutMs: number;
  notificationTimeoutMs: number;
  batchLimit: number;
  /** How long a `timeout` fault holds a request before answering 504. */
  faultHangMs: number;
  /** Most results one `$search` on messages returns, over all its pages (1,000 at Microsoft). */
  searchResultCap: number;
}

export const DEFAULT_CONFIG: MsConfig = {
  accessTokenLifetimeSeconds: 3599,
  authorizationCodeLifetimeSeconds: 600,
  refreshTokenInactivitySeconds: 90 * 24 * 3600,
  deltaTokenLifetimeSeconds: 30 * 24 * 3600,
  deltaFilterCap: 5000,
  defaultDeltaPageSize: 10,
  maxDeltaPageSize: 1000,
  maxSubscriptionMinutes: 10080,
  reauthorizationLeadMinutes: 60,
  validationTimeoutMs: 10_000,
  notificationTimeoutMs: 3_000,
  batchLimit: 20,
  faultHangMs: 20_000,
  searchResultCap: 1000,
};

export interface AuthCode {
  code: string;
  clientId: string;
  redirectUri: string;
  scopes: string[];
  address: string;
  codeChallenge: string | null;
  codeChallengeMethod: string | null;
  nonce: string | null;
  issuedAt: Date;
  redeemed: boolean;
}

export interface RefreshTokenRecord {
  token: string;
  clientId: string;
  address: string;
  scopes: string[];
  issuedAt: Date;
  revoked: boolean;
}

export interface AccessTokenRecord {
  token: string;
  clientId: string;
  address: string;
  scopes: string[];
  expiresAt: Date;
  revoked: boolean;
}

export interface Subscription {
  id: string;
  address: string;
  clientId: string;
  resource: string;
  /** What the resource watches: one folder's messages, all messages, or events. */
  target: { kind: 'messages'; folder: GraphFolder | null } | { kind: 'events' };
  changeTypes: Array<'created' | 'updated' | 'deleted'>;
  notificationUrl: string;
  lifecycleNotificationUrl: string | null;
  clientState: string | null;
  expirationDateTime: Date;
  immutableIds: boolean;
  latestSupportedTlsVersion: string;
  /** Set when a reauthorizationRequired was sent and not yet answered: notifications pause. */
  needsReauthorization: boolean;
  reauthorizationSentFor: string | null;
  createdAt: Date;
}

export interface Draft {
  id: string;
  address: string;
  conversationId: string;
  subject: string;
  body: { contentType: 'text' | 'html'; content: string };
  toRecipients: Recipient[];
  ccRecipients: Recipient[];
  bccRecipients: Recipient[];
  replyTo: Recipient[];
  inReplyTo: string | null;
  references: string[];
  internetMessageId: string;
  createdAt: Date;
  lastModified: Date;
  version: number;
}

export interface Recipient {
  emailAddress: { name?: string; address: string };
}

export interface CalendarEvent {
  id: string;
  address: string;
  iCalUId: string;
  body: Record<string, unknown>;
  createdAt: Date;
  lastModified: Date;
  changeKey: string;
}

export interface NotificationDelivery {
  subscriptionId: string;
  url: string;
  kind: 'change' | 'lifecycle';
  payload: unknown;
  status: number | 'error';
  at: Date;
}

export class MicrosoftState {
  config: MsConfig = { ...DEFAULT_CONFIG };
  readonly codes = new Map<string, AuthCode>();
  readonly refreshTokens = new Map<string, RefreshTokenRecord>();
  readonly accessTokens = new Map<string, AccessTokenRecord>();
  readonly subscriptions = new Map<string, Subscription>();
  /** The earliest time a subscription's lifecycle is due (a reauthorizationRequired or its removal): the tick run
   * on every Graph request looks at the subscriptions only from then on; set back to -Infinity by any change. */
  lifecycleDueAt = -Infinity;
  readonly drafts = new Map<string, Draft>();
  readonly events = new Map<string, CalendarEvent>();
  /** Every push the simulator attempted, newest last (bounded). */
  readonly deliveries: NotificationDelivery[] = [];
  /** A secret that authenticates delta tokens (so a hand-edited token is refused like an unknown one). */
  readonly tokenKey: Buffer;

  constructor(tokenKey: Buffer) {
    this.tokenKey = tokenKey;
  }

  recordDelivery(d: NotificationDelivery): void {
    this.deliveries.push(d);
    if (this.deliveries.length > 1000) this.deliveries.splice(0, this.deliveries.length - 1000);
  }
}
