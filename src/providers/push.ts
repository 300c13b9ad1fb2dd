import type { Provider } from '../domain/types.ts';

/**
 * What a provider's push notification means to the product, whatever its wire format (a Pub/Sub push of a Gmail
 * watch, a Graph change or lifecycle notification). Each provider's decoder turns its bodies into these; nothing past
 * this point knows the formats.
 * - `changed`: the mailbox changed; an incremental sync from the cursor picks it up.
 * - `renew`: the channel must be renewed (reauthorized) now or it stops delivering.
 * - `recreate`: the provider removed the channel; it must be started again.
 * - `missed`: the provider dropped notifications; only a sync can tell what changed.
 */
export type PushEvent = 'changed' | 'renew' | 'recreate' | 'missed';

export interface PushNotice {
  provider: Provider;
  event: PushEvent;
  /** The channel it came through (`PushChannel.channelId`). */
  channelId: string;
  /** The channel's secret as the notification carries it (Graph clientState); null where there is none. */
  secret: string | null;
  /** How far the mailbox had got when the notification was sent (Gmail historyId), when the provider says. */
  position: string | null;
}

/** A notification that must not be trusted: `status` is the HTTP answer (401 no or bad credentials, 403 not for us). */
export class PushAuthError extends Error {
  constructor(
    readonly status: 401 | 403 | 503,
    message: string,
  ) {
    super(message);
    this.name = 'PushAuthError';
  }
}
