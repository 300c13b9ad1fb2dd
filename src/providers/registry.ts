import type { Provider } from '../domain/types.ts';
import { googleEndpoints, microsoftEndpoints } from './endpoints.ts';
import { GoogleOAuthClient } from './google/oauth.ts';
import { MicrosoftOAuthClient } from './microsoft/oauth.ts';
import { GmailSender } from './google/send.ts';
import { GraphSender } from './microsoft/send.ts';
import type { MailSender, OAuthClient } from './types.ts';
import { createMailProviders, WEBHOOK_PATHS, type MailProviders, type MailPushClient } from './mail.ts';
import { PubSubPushVerifier } from './google/pubsub.ts';
import { createCalendarClients, type CalendarClient } from './calendar.ts';

export interface ProviderSettings {
  /** `pubsubTopic`: where Gmail watches publish (`GOOGLE_PUBSUB_TOPIC`); none → Gmail push is off (polling). */
  google: {
    clientId?: string | undefined;
    clientSecret?: string | undefined;
    baseUrl?: string | undefined;
    pubsubTopic?: string | undefined;
    /** `aud` of the push subscription's tokens (`GOOGLE_PUBSUB_AUDIENCE`); default: the webhook's URL. */
    pubsubAudience?: string | undefined;
    /** Only this service account's push tokens are accepted (`GOOGLE_PUBSUB_SERVICE_ACCOUNT`). */
    pubsubServiceAccount?: string | undefined;
  };
  microsoft: { clientId?: string | undefined; clientSecret?: string | undefined; baseUrl?: string | undefined };
  /** Where providers reach the product's webhooks (`PUBLIC_URL`); none → Graph subscriptions are off (polling). */
  publicUrl?: string | undefined;
}

/** The provider implementations the product talks to, built from configuration. */
export interface ProviderRegistry {
  oauth(provider: Provider): OAuthClient;
  sender(provider: Provider): MailSender;
  calendar(provider: Provider): CalendarClient;
  /** Reading mail for sync: header listing, changes, raw MIME of ingested messages. */
  mail: MailProviders;
  /** Push notifications for mailboxes: Gmail watch, Graph subscriptions. */
  push(provider: Provider): MailPushClient;
  /** Checks Gmail's Pub/Sub pushes; undefined when neither an audience nor the public URL is known. */
  pubsub: PubSubPushVerifier | undefined;
  isConfigured(provider: Provider): boolean;
}

export function createProviderRegistry(settings: ProviderSettings, now: () => Date): ProviderRegistry {
  const clients: Partial<Record<Provider, OAuthClient>> = {};
  const g = settings.google;
  if (g.clientId && g.clientSecret) clients.google = new GoogleOAuthClient(googleEndpoints(g.baseUrl), { id: g.clientId, secret: g.clientSecret }, now);
  const m = settings.microsoft;
  if (m.clientId && m.clientSecret) clients.microsoft = new MicrosoftOAuthClient(microsoftEndpoints(m.baseUrl), { id: m.clientId, secret: m.clientSecret }, now);
  const senders: Record<Provider, MailSender> = {
    google: new GmailSender(googleEndpoints(g.baseUrl), now),
    microsoft: new GraphSender(microsoftEndpoints(m.baseUrl), now),
  };
  const calendars = createCalendarClients({ google: g.baseUrl, microsoft: m.baseUrl }, now);
  const mail = createMailProviders({ google: { baseUrl: g.baseUrl, pubsubTopic: g.pubsubTopic }, microsoft: { baseUrl: m.baseUrl, publicUrl: settings.publicUrl }, now });
  const audience = g.pubsubAudience ?? (settings.publicUrl ? `${settings.publicUrl.replace(/\/$/, '')}${WEBHOOK_PATHS.googlePubSub}` : undefined);
  const pubsub = audience ? new PubSubPushVerifier({ certsUrl: googleEndpoints(g.baseUrl).certs, audience, serviceAccountEmail: g.pubsubServiceAccount, now }) : undefined;
  return {
    calendar: (provider) => calendars(provider),
    mail,
    push: (provider) => mail.push(provider),
    pubsub,
    sender: (provider) => senders[provider],
    isConfigured: (provider) => clients[provider] !== undefined,
    oauth: (provider) => {
      const client = clients[provider];
      if (!client) {
        const prefix = provider === 'google' ? 'GOOGLE' : 'MICROSOFT';
        throw new Error(`${provider} is not configured: set ${prefix}_CLIENT_ID and ${prefix}_CLIENT_SECRET`);
      }
      return client;
    },
  };
}
