import { createClock, type SimClock } from './clock.ts';
import { Faults } from './faults.ts';
import { defaultLimits, Quota, type Limits } from './limits.ts';
import { MailStore, type Provider } from './mail.ts';

/** The provider-neutral state both simulators share (see sim/README.md). */

export interface Tenant {
  provider: Provider;
  domain: string;
  /** Scopes the IT admin consented to; null = all. */
  grantedScopes: string[] | null;
}

export interface OAuthClientRecord {
  provider: Provider;
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
  /** The preregistered local client accepts any redirect URI on 127.0.0.1 or localhost. */
  anyLocalRedirect: boolean;
}

export interface UsageEntry {
  units: number;
  requests: Record<string, number>;
  bodies: Set<string>;
}

export interface RevocationEntry {
  provider: Provider;
  kind: 'token' | 'subscription' | 'watch';
  /** A token's fingerprint (never the token), or the subscription id. */
  id: string;
  at: Date;
  detail?: string;
}

export const LOCAL_CLIENT = { clientId: 'recruiter-sync-local', clientSecret: 'local-secret' } as const;

export class Tenants {
  private readonly byDomain = new Map<string, Tenant>();

  upsert(t: { provider: Provider; domain: string; grantedScopes?: string[] | null }): Tenant {
    const tenant: Tenant = { provider: t.provider, domain: t.domain.toLowerCase(), grantedScopes: t.grantedScopes ?? null };
    this.byDomain.set(tenant.domain, tenant);
    return tenant;
  }

  get(domain: string): Tenant | undefined {
    return this.byDomain.get(domain.toLowerCase());
  }

  /** null when the IT admin granted everything (or no tenant is configured for the domain). */
  grantedScopes(domain: string): string[] | null {
    return this.get(domain)?.grantedScopes ?? null;
  }

  list(): Tenant[] {
    return [...this.byDomain.values()];
  }
}

export class Clients {
  private readonly byKey = new Map<string, OAuthClientRecord>();

  constructor() {
    for (const provider of ['google', 'microsoft'] as const) {
      this.register({ provider, clientId: LOCAL_CLIENT.clientId, clientSecret: LOCAL_CLIENT.clientSecret, redirectUris: [], anyLocalRedirect: true });
    }
  }

  register(c: { provider: Provider; clientId: string; clientSecret: string; redirectUris: string[]; anyLocalRedirect?: boolean }): OAuthClientRecord {
    const rec: OAuthClientRecord = { ...c, anyLocalRedirect: c.anyLocalRedirect ?? false };
    this.byKey.set(`${c.provider}|${c.clientId}`, rec);
    return rec;
  }

  get(provider: Provider, clientId: string): OAuthClientRecord | undefined {
    return this.byKey.get(`${provider}|${clientId}`);
  }

  redirectAllowed(provider: Provider, clientId: string, redirectUri: string): boolean {
    const c = this.get(provider, clientId);
    if (!c) return false;
    if (c.redirectUris.includes(redirectUri)) return true;
    if (!c.anyLocalRedirect) return false;
    try {
      const u = new URL(redirectUri);
      return (u.protocol === 'http:' || u.protocol === 'https:') && (u.hostname === '127.0.0.1' || u.hostname === 'localhost' || u.hostname === '[::1]');
    } catch {
      return false;
    }
  }
}

export class Usage {
  private data: Record<Provider, Map<string, UsageEntry>> = { google: new Map(), microsoft: new Map() };

  private entry(provider: Provider, address: string): UsageEntry {
    const key = address.toLowerCase();
    let e = this.data[provider].get(key);
    if (!e) {
      e = { units: 0, requests: {}, bodies: new Set() };
      this.data[provider].set(key, e);
    }
    return e;
  }

  /** One API call: `method` is the provider's method name (`messages.get`, `GET /me/messages`…). */
  request(provider: Provider, address: string, method: string, units: number): void {
    const e = this.entry(provider, address);
    e.units += units;
    e.requests[method] = (e.requests[method] ?? 0) + 1;
  }

  /** A message body left the simulator (counted once per distinct message id). */
  body(provider: Provider, address: string, messageId: string): void {
    this.entry(provider, address).bodies.add(messageId);
  }

  snapshot(): Record<Provider, Record<string, { units: number; requests: Record<string, number>; bodiesServed: number }>> {
    const out = { google: {}, microsoft: {} } as Record<Provider, Record<string, { units: number; requests: Record<string, number>; bodiesServed: number }>>;
    for (const p of ['google', 'microsoft'] as const) {
      for (const [address, e] of this.data[p]) out[p][address] = { units: e.units, requests: { ...e.requests }, bodiesServed: e.bodies.size };
    }
    return out;
  }

  reset(): void {
    this.data = { google: new Map(), microsoft: new Map() };
  }
}

export class Revocations {
  private readonly byAddress = new Map<string, RevocationEntry[]>();

  record(address: string, entry: RevocationEntry): void {
    const key = address.toLowerCase();
    const list = this.byAddress.get(key) ?? [];
    list.push(entry);
    this.byAddress.set(key, list);
  }

  of(address: string): RevocationEntry[] {
    return [...(this.byAddress.get(address.toLowerCase()) ?? [])];
  }

  snapshot(): Record<string, RevocationEntry[]> {
    return Object.fromEntries([...this.byAddress].map(([k, v]) => [k, [...v]]));
  }
}

export interface SimState {
  clock: SimClock;
  mail: MailStore;
  tenants: Tenants;
  clients: Clients;
  limits: Limits;
  quota: Quota;
  faults: Faults;
  usage: Usage;
  revocations: Revocations;
  push: Record<Provider, boolean>;
}

export function createSimState(opts: { now?: Date; frozen?: boolean } = {}): SimState {
  const clock = createClock({ ...(opts.now ? { now: opts.now } : {}), frozen: opts.frozen ?? opts.now !== undefined });
  return {
    clock,
    mail: new MailStore(clock),
    tenants: new Tenants(),
    clients: new Clients(),
    limits: defaultLimits(),
    quota: new Quota(),
    faults: new Faults(),
    usage: new Usage(),
    revocations: new Revocations(),
    push: { google: true, microsoft: true },
  };
}
