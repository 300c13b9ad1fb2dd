import { createHash, randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';

/** Google-only simulator state: OAuth codes and tokens, watches, Pub/Sub subscriptions, calendar events. */

export interface AuthCode {
  code: string;
  clientId: string;
  redirectUri: string;
  scopes: string[];
  address: string;
  codeChallenge: string | null;
  codeChallengeMethod: 'S256' | 'plain' | null;
  offline: boolean;
  forceConsent: boolean;
  nonce: string | null;
  issuedAt: Date;
  used: boolean;
}

export interface AccessToken {
  token: string;
  clientId: string;
  address: string;
  scopes: string[];
  expiresAt: Date;
  grantKey: string;
  refreshToken: string | null;
  revoked: boolean;
}

export interface RefreshToken {
  token: string;
  clientId: string;
  address: string;
  scopes: string[];
  grantKey: string;
  issuedAt: Date;
  revoked: boolean;
}

export interface Watch {
  address: string;
  topicName: string;
  labelIds: string[];
  labelFilterBehavior: 'include' | 'exclude';
  historyId: number;
  expiration: Date;
}

export interface PubSubSubscription {
  name: string;
  topicName: string;
  pushEndpoint: string;
  audience: string | null;
  serviceAccountEmail: string;
}

export interface PushRecord {
  subscription: string;
  pushEndpoint: string;
  emailAddress: string;
  historyId: number;
  messageId: string;
  at: string;
  status: number | null;
  attempts: number;
  error?: string;
}

export interface CalendarEvent {
  address: string;
  calendarId: string;
  json: Record<string, unknown>;
  sendUpdates: string;
}

export interface GoogleConfig {
  authorizationCodeLifetimeSeconds: number;
  /** Google keeps at most this many refresh tokens per client and account; older ones stop working. */
  maxRefreshTokensPerGrant: number;
  pushRetries: number;
}

export class GoogleState {
  readonly codes = new Map<string, AuthCode>();
  readonly accessTokens = new Map<string, AccessToken>();
  readonly refreshTokens = new Map<string, RefreshToken>();
  /** clientId|address → scopes granted so far (include_granted_scopes). */
  readonly grants = new Map<string, Set<string>>();
  readonly watches = new Map<string, Watch>();
  readonly subscriptions: PubSubSubscription[] = [];
  readonly pushes: PushRecord[] = [];
  readonly events = new Map<string, CalendarEvent>();
  readonly config: GoogleConfig = { authorizationCodeLifetimeSeconds: 600, maxRefreshTokensPerGrant: 100, pushRetries: 3 };
  private pushCounter = 1_000_000_000_000;

  private constructor(
    readonly privateKey: CryptoKey,
    readonly jwk: JWK,
    readonly kid: string,
  ) {}

  static async create(): Promise<GoogleState> {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    const jwk = await exportJWK(publicKey);
    const kid = createHash('sha1').update(JSON.stringify(jwk)).digest('hex');
    return new GoogleState(privateKey, { ...jwk, kid, alg: 'RS256', use: 'sig' }, kid);
  }

  nextPushMessageId(): string {
    return String(++this.pushCounter);
  }
}

export const grantKey = (clientId: string, address: string) => `${clientId}|${address.toLowerCase()}`;
export const opaque = (bytes: number) => randomBytes(bytes).toString('base64url');
export const newAccessToken = () => `ya29.${opaque(120)}`;
export const newRefreshToken = () => `1//${opaque(72)}`;
export const newCode = () => `4/0${opaque(54)}`;
/** A stable numeric Google account id. */
export const subjectOf = (address: string) => (BigInt('0x' + createHash('sha256').update(address.toLowerCase()).digest('hex').slice(0, 16)) % 10n ** 21n).toString().padStart(21, '1');
export const fingerprint = (token: string) => createHash('sha256').update(token).digest('hex').slice(0, 16);
