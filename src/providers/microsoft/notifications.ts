import { z } from 'zod';
import type { PushEvent, PushNotice } from '../push.ts';

/**
 * Graph change and lifecycle notifications (https://learn.microsoft.com/graph/change-notifications-delivery-webhooks,
 * https://learn.microsoft.com/graph/change-notifications-lifecycle-events): a collection `{value: [...]}` whose items
 * name their subscription and repeat its clientState. Items are taken one by one: one the product cannot read is
 * left out, never the whole delivery.
 */

const Item = z.object({
  subscriptionId: z.string().min(1).max(200),
  clientState: z.string().max(256).nullish(),
  changeType: z.string().max(50).optional(),
  lifecycleEvent: z.string().max(100).optional(),
});

const Collection = z.object({ value: z.array(z.unknown()).max(1_000) });

const LIFECYCLE: Record<string, PushEvent> = {
  reauthorizationRequired: 'renew',
  subscriptionRemoved: 'recreate',
  missed: 'missed',
};

/** `kind` is the URL the delivery came to. Throws a `ZodError` when the body is not a notification collection. */
export function decodeGraphNotifications(kind: 'change' | 'lifecycle', body: unknown): { notices: PushNotice[]; unreadable: number } {
  const collection = Collection.parse(body);
  const notices: PushNotice[] = [];
  let unreadable = 0;
  for (const raw of collection.value) {
    const item = Item.safeParse(raw);
    if (!item.success) {
      unreadable++;
      continue;
    }
    const lifecycle = item.data.lifecycleEvent;
    // A lifecycle event may come to either URL (the notification URL when no lifecycle URL was given).
    const event: PushEvent | undefined = lifecycle !== undefined ? LIFECYCLE[lifecycle] : kind === 'change' ? 'changed' : undefined;
    if (!event) {
      unreadable++;
      continue;
    }
    notices.push({ provider: 'microsoft', event, channelId: item.data.subscriptionId, secret: item.data.clientState ?? null, position: null });
  }
  return { notices, unreadable };
}
