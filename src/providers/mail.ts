import type { Provider } from '../domain/types.ts';
import type { MessageFacts } from '../sync/ingest/types.ts';
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
}

export interface MailProviders {
  client(provider: Provider): MailClient;
}

export interface MailProviderSettings {
  google?: { baseUrl?: string | undefined };
  /** `pageSize`: messages per delta page (`odata.maxpagesize`). */
  microsoft?: { baseUrl?: string | undefined; pageSize?: number | undefined };
  now?: () => Date;
}

/** The mail clients of both providers, base URLs as for OAuth (`GOOGLE_API_BASE_URL`, `MICROSOFT_API_BASE_URL`). */
export function createMailProviders(settings: MailProviderSettings = {}): MailProviders {
  const now = settings.now ?? (() => new Date());
  const clients: Record<Provider, MailClient> = {
    google: new GmailClient(googleEndpoints(settings.google?.baseUrl), now),
    microsoft: new GraphMailClient(microsoftEndpoints(settings.microsoft?.baseUrl), now, settings.microsoft?.pageSize),
  };
  return { client: (provider) => clients[provider] };
}
