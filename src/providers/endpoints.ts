import type { Provider } from '../domain/types.ts';

/**
 * Provider hosts. Unset base URL → the real services. Set (`GOOGLE_API_BASE_URL`, `MICROSOFT_API_BASE_URL`)
 * → every host of that provider is replaced by the one prefix with paths kept, which is how the simulators
 * (or a test double of any kind) are reached.
 */
const REAL = {
  google: {
    accounts: 'https://accounts.google.com',
    oauth2: 'https://oauth2.googleapis.com',
    gmail: 'https://gmail.googleapis.com',
    www: 'https://www.googleapis.com',
  },
  microsoft: {
    login: 'https://login.microsoftonline.com',
    graph: 'https://graph.microsoft.com',
  },
} as const;

export interface GoogleEndpoints {
  authorize: string;
  token: string;
  revoke: string;
  gmail: string;
  batchGmail: string;
  calendar: string;
  userinfo: string;
  certs: string;
}

export interface MicrosoftEndpoints {
  authorize: string;
  token: string;
  graph: string;
}

export function googleEndpoints(baseUrl?: string): GoogleEndpoints {
  const host = (real: string) => (baseUrl ? baseUrl.replace(/\/$/, '') : real);
  return {
    authorize: `${host(REAL.google.accounts)}/o/oauth2/v2/auth`,
    token: `${host(REAL.google.oauth2)}/token`,
    revoke: `${host(REAL.google.oauth2)}/revoke`,
    gmail: `${host(REAL.google.gmail)}/gmail/v1`,
    batchGmail: `${host(REAL.google.www)}/batch/gmail/v1`,
    calendar: `${host(REAL.google.www)}/calendar/v3`,
    userinfo: `${host(REAL.google.www)}/oauth2/v3/userinfo`,
    certs: `${host(REAL.google.www)}/oauth2/v3/certs`,
  };
}

/** `common` lets work accounts of any tenant sign in; each tenant's admin consent still applies. */
export function microsoftEndpoints(baseUrl?: string, tenant = 'common'): MicrosoftEndpoints {
  const host = (real: string) => (baseUrl ? baseUrl.replace(/\/$/, '') : real);
  return {
    authorize: `${host(REAL.microsoft.login)}/${tenant}/oauth2/v2.0/authorize`,
    token: `${host(REAL.microsoft.login)}/${tenant}/oauth2/v2.0/token`,
    graph: `${host(REAL.microsoft.graph)}/v1.0`,
  };
}

export type EndpointsOf<P extends Provider> = P extends 'google' ? GoogleEndpoints : MicrosoftEndpoints;
