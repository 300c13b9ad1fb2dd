import type { Provider } from '../domain/types.ts';
import { googleEndpoints, microsoftEndpoints } from './endpoints.ts';
import { GoogleOAuthClient } from './google/oauth.ts';
import { MicrosoftOAuthClient } from './microsoft/oauth.ts';
import { GmailSender } from './google/send.ts';
import { GraphSender } from './microsoft/send.ts';
import type { MailSender, OAuthClient } from './types.ts';
import { createMailProviders, type MailProviders } from './mail.ts';
import { createCalendarClients, type CalendarClient } from './calendar.ts';

export interface ProviderSettings {
  google: { clientId?: string | undefined; clientSecret?: string | undefined; baseUrl?: string | undefined };
  microsoft: { clientId?: string | undefined; clientSecret?: string | undefined; baseUrl?: string | undefined };
}

/** The provider implementations the product talks to, built from configuration. */
export interface ProviderRegistry {
  oauth(provider: Provider): OAuthClient;
  sender(provider: Provider): MailSender;
  calendar(provider: Provider): CalendarClient;
  /** Reading mail for sync: header listing, changes, raw MIME of ingested messages. */
  mail: MailProviders;
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
  return {
    calendar: (provider) => calendars(provider),
    mail: createMailProviders({ google: { baseUrl: g.baseUrl }, microsoft: { baseUrl: m.baseUrl }, now }),
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
