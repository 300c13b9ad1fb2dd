import type { MessageHeaders } from '../domain/ingestion/index.ts';
import type { Provider } from '../domain/types.ts';

/**
 * What the product needs from a mail and calendar provider. Google and Microsoft implement it in their own
 * folders; provider differences (wire formats, id shapes, error bodies) never leak past this interface.
 */
export interface TokenSet {
  accessToken: string;
  /** Absent when the provider did not issue a new one (Google keeps the old refresh token valid). */
  refreshToken?: string | undefined;
  expiresAt: Date;
  /** Scopes actually granted (may differ from those requested). */
  scopes: string[];
}

export interface MailboxIdentity {
  address: string;
  /** Send-as aliases / proxy addresses the mailbox also receives and sends as. */
  aliases: string[];
}

export interface AuthorizationRequest {
  scopes: string[];
  state: string;
  codeChallenge: string;
  redirectUri: string;
  loginHint?: string | undefined;
  /** Ask for consent again (needed to gain a scope the grant lacks, e.g. send after an upgrade). */
  forceConsent: boolean;
}

export interface OAuthClient {
  readonly provider: Provider;
  authorizationUrl(request: AuthorizationRequest): string;
  exchangeCode(params: { code: string; codeVerifier: string; redirectUri: string }): Promise<TokenSet>;
  refresh(refreshToken: string, scopes: string[]): Promise<TokenSet>;
  /** Revokes the grant at the provider; `unsupported` where the provider has no such endpoint. */
  revoke(token: string): Promise<'revoked' | 'unsupported'>;
  identity(accessToken: string): Promise<MailboxIdentity>;
}

/** A message the product sends through a seat's own mailbox, composed as RFC 5322 by the caller. */
export interface OutgoingMessage {
  raw: Uint8Array;
  /** The provider thread a reply belongs to (Gmail needs it to join the thread). */
  providerThreadId?: string | undefined;
}

export interface SentMessage {
  /** Null where the provider does not say (Graph's sendMail answers 202 with no body). */
  providerMessageId: string | null;
  providerThreadId: string | null;
}

export interface MailSender {
  send(accessToken: string, message: OutgoingMessage): Promise<SentMessage>;
}

/**
 * Header facts of one message, as both providers can supply them before any body is fetched:
 * Gmail `messages.get?format=metadata` (labelIds, internalDate, threadId and the From/To/Cc/Bcc/Message-ID/
 * In-Reply-To/References headers) or Graph `$select` fields of a delta or list page (from, toRecipients,
 * ccRecipients, bccRecipients, receivedDateTime/sentDateTime, conversationId, internetMessageId, parentFolderId,
 * isDraft). Address fields take raw header values or Graph `{name, address}` lists alike.
 */
export interface MessageFacts extends MessageHeaders {
  readonly providerMessageId: string;
  readonly providerThreadId: string;
  /** RFC 5322 Message-ID (Gmail header, Graph internetMessageId), when the metadata carried it. */
  readonly rfcMessageId?: string | null;
  readonly inReplyTo?: string | null;
  readonly references?: string | readonly string[] | null;
  /** Latest activity of the thread as the provider lists it; null when unknown. */
  readonly threadLastActivityAt?: Date | null;
  /** Subject from the metadata: stored only if the MIME has none readable; never written to the decision log. */
  readonly subject?: string | null;
}
