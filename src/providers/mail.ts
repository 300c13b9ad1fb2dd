import type { Provider } from '../domain/types.ts';
import type { MessageFacts } from './types.ts';
import { googleEndpoints, microsoftEndpoints } from './endpoints.ts';
import { GmailClient } from './google/gmail.ts';
import { GraphMailClient } from './microsoft/graph.ts';

/**
 * What the sync engine needs from a mailbox, provider-neutral (Gmail v1 and Graph v1.0 implement it). Cursors and
 * checkpoints are opaque JSON the engine stores in sync_states; only the client that issued one reads it.
 * Every failure is a `ProviderError` with its kind (auth / consent / throttled / transient / cursor_expired /
 * permanent).
 */
export type Opaque = Record<string, unknown>;

export interface HistoricalScanInput {
  /**
   * Addresses that can qualify (pipeline candidates, counterparts of threads started from the product). A client
   * that can ask the provider by address (Gmail `q`) lists only their mail; one that cannot (Graph delta) lists
   * the window and the rules sort it out from headers.
   */
  readonly addresses: readonly string[];
  /** R-35 window start: nothing dated before it is listed. */
  readonly since: Date;
  /** Where the previous page of this scan ended; null to begin. */
  readonly checkpoint: Opaque | null;
  /**
   * the six-month activity cut-off of a historical sync. A client that can list by date lists the mail dated
   * from it on first, then of the older mail reads only that of the threads `activeThreads` names; the rest belongs
   * to inactive threads and is not read at all. Without both, the whole window is read.
   */
  readonly activeSince?: Date | undefined;
  /** Of these provider thread ids, those known to be active: seen active by this scan, or stored so. */
  readonly activeThreads?: ((providerThreadIds: readonly string[]) => Promise<ReadonlySet<string>>) | undefined;
}

export interface HistoricalScanPage {
  /** Header facts only: no body has been fetched for any of them. */
  readonly messages: MessageFacts[];
  /** Where the next page begins; null when the scan is complete. */
  readonly checkpoint: Opaque | null;
  /** The incremental cursor, covering everything after the scan began; set on the last page. */
  readonly cursor: Opaque | null;
  /** How many messages the whole scan will examine, as far as the provider says; null when unknown. */
  readonly estimate: number | null;
}

export interface AddressScanPage {
  /** Header facts only. */
  readonly messages: MessageFacts[];
  /** Where the next page begins; null when every message of the addresses has been listed. */
  readonly checkpoint: Opaque | null;
}

export interface ChangesPage {
  /** New (or restored) messages, header facts only. */
  readonly added: MessageFacts[];
  /** Provider ids of messages deleted or moved to Trash / Deleted Items. */
  readonly removed: string[];
  /** The cursor after this page: store it, then ask again while `more`. */
  readonly cursor: Opaque;
  readonly more: boolean;
}

/**
 * A push channel at the provider: a Gmail watch on the Pub/Sub topic, or a Graph subscription on a mail
 * folder. Notifications name the channel by `channelId`, which is how they find the grant they belong to.
 */
export interface PushChannel {
  /** What the provider's notifications name the channel by (the mailbox address of a Gmail watch, a Graph subscription id). */
  readonly channelId: string;
  /** What the channel watches; a grant has at most one channel per resource. */
  readonly resource: string;
  readonly expiresAt: Date;
  /**
   * A secret the provider repeats in every notification of this channel (Graph `clientState`), to be kept only as a
   * hash; null where notifications are authenticated otherwise (Pub/Sub's signed token).
   */
  readonly secret: string | null;
}

export interface MailClient {
  readonly provider: Provider;
  historicalPage(accessToken: string, input: HistoricalScanInput): Promise<HistoricalScanPage>;
  /** Changes since `cursor`; `cursor_expired` when the provider no longer knows it. */
  changesPage(accessToken: string, cursor: Opaque): Promise<ChangesPage>;
  /** Header facts of messages by id; absent from the result when the message no longer exists. */
  headers(accessToken: string, providerMessageIds: readonly string[]): Promise<Map<string, MessageFacts>>;
  /** Raw RFC 5322 bytes, only for messages that will be ingested; absent when the message is gone. */
  raw(accessToken: string, providerMessageIds: readonly string[]): Promise<Map<string, Uint8Array>>;
  /**
   * the mail of these addresses only, dated on or after `since`, header facts only, from the folders the
   * historical scan reads (Gmail search `q`; Graph `$search` on participants) — a few requests for one
   * candidate's mail, never a listing of the mailbox.
   */
  addressPage(accessToken: string, input: HistoricalScanInput): Promise<AddressScanPage>;
  /**
   * The lightest call that proves the provider still accepts the grant: Gmail `users.getProfile` (1 quota
   * unit), Graph the Inbox's id. Refused → a ProviderError `auth` or `consent`, like any other call.
   */
  probe(accessToken: string): Promise<void>;
}

/** Push notifications for a mailbox, behind the same provider-neutral line as `MailClient`. */
export interface MailPushClient {
  readonly provider: Provider;
  /**
   * The resources this client watches with push for a mailbox; empty when push is not configured for the provider
   * (Gmail without a Pub/Sub topic, Graph without a public URL): then the poll alone keeps the mailbox in step.
   */
  pushResources(): string[];
  /** Starts push on one of `pushResources()`. */
  startPush(accessToken: string, resource: string): Promise<PushChannel>;
  /** Extends a channel's life; a `permanent` error with status 404 means the provider no longer has it (start again). */
  renewPush(accessToken: string, channel: Pick<PushChannel, 'channelId' | 'resource'>): Promise<PushChannel>;
  /** Ends a channel at the provider; a channel the provider no longer has counts as ended. */
  stopPush(accessToken: string, channel: Pick<PushChannel, 'channelId' | 'resource'>): Promise<void>;
  /**
   * Whether a stored cursor already covers a notification's `position` (`PushNotice.position`), so that the
   * notification brings nothing new (a redelivery, or a change an earlier run already read).
   */
  cursorCovers(cursor: Opaque, position: string): boolean;
}

export interface MailProviders {
  client(provider: Provider): MailClient;
}

export interface MailPushProviders {
  push(provider: Provider): MailPushClient;
}

export interface MailProviderSettings {
  /** `pubsubTopic`: the topic Gmail watches publish to (`GOOGLE_PUBSUB_TOPIC`); none → no Gmail push. */
  google?: { baseUrl?: string | undefined; pubsubTopic?: string | undefined };
  /**
   * `pageSize`: messages per delta page (`odata.maxpagesize`). `publicUrl`: where Graph reaches the product's
   * webhooks (`PUBLIC_URL`); none → no Graph subscriptions. `deltaFilterCap`: Graph's cap on a filtered delta round.
   */
  microsoft?: { baseUrl?: string | undefined; pageSize?: number | undefined; publicUrl?: string | undefined; deltaFilterCap?: number | undefined };
  now?: () => Date;
}

/** The product's webhook paths (served by `src/api/routes/webhooks.ts`), below `PUBLIC_URL`. */
export const WEBHOOK_PATHS = {
  googlePubSub: '/webhooks/google/pubsub',
  microsoftNotifications: '/webhooks/microsoft/notifications',
  microsoftLifecycle: '/webhooks/microsoft/lifecycle',
} as const;

/** The mail clients of both providers, base URLs as for OAuth (`GOOGLE_API_BASE_URL`, `MICROSOFT_API_BASE_URL`). */
export function createMailProviders(settings: MailProviderSettings = {}): MailProviders & MailPushProviders {
  const now = settings.now ?? (() => new Date());
  const clients: Record<Provider, MailClient & MailPushClient> = {
    google: new GmailClient(googleEndpoints(settings.google?.baseUrl), now, settings.google?.pubsubTopic),
    microsoft: new GraphMailClient(microsoftEndpoints(settings.microsoft?.baseUrl), now, settings.microsoft?.pageSize, graphPushUrls(settings.microsoft?.publicUrl), settings.microsoft?.deltaFilterCap),
  };
  return { client: (provider) => clients[provider], push: (provider) => clients[provider] };
}

function graphPushUrls(publicUrl: string | undefined): { notificationUrl: string; lifecycleNotificationUrl: string } | undefined {
  if (!publicUrl) return undefined;
  const base = publicUrl.replace(/\/$/, '');
  return { notificationUrl: `${base}${WEBHOOK_PATHS.microsoftNotifications}`, lifecycleNotificationUrl: `${base}${WEBHOOK_PATHS.microsoftLifecycle}` };
}
