/**
 * R-27: the per-mailbox quota budget every process draws on (table `quota_budgets`, migration 0014), so the product
 * never provokes a provider's rate limit instead of reacting to it. Each provider call made for a mailbox takes its
 * cost (Gmail quota units, Graph requests; `requestCost`) and a concurrent-request lease before it leaves
 * (`providerFetch`). A draw is one short transaction that locks the mailbox's row, so processes sharing the database
 * share the budget exactly.
 *
 * The quota is a sliding window: units are counted per slot of a tenth of the provider's window, and a draw is
 * granted only while the last eleven slots — every slot a provider window of any alignment can overlap — stay
 * within the limit less a safety margin. Time is the product clock (the system clock in production), which is what
 * tests and the benchmark move together with the simulators'.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Clock } from '../clock.ts';
import type { Provider } from '../domain/types.ts';
import { withQuotaScope, type QuotaBudget } from '../providers/budget.ts';
import type { DB } from '../store/schema.ts';

export interface ProviderQuota {
  /** Units (Gmail) or requests (Graph) a mailbox may spend per window. */
  perWindow: number;
  windowSeconds: number;
  /** Requests in flight at once per mailbox. */
  concurrency: number;
}

export type QuotaLimits = Record<Provider, ProviderQuota>;

/**
 * The providers' published per-mailbox limits, no higher than the simulators' defaults (sim/core/limits.ts): Gmail
 * 15,000 units per user per minute and the simulator's 25 concurrent requests per user; Graph 10,000 requests per
 * 10 minutes and 4 concurrent requests per mailbox.
 */
export const DEFAULT_QUOTA_LIMITS: QuotaLimits = {
  google: { perWindow: 15_000, windowSeconds: 60, concurrency: 25 },
  microsoft: { perWindow: 10_000, windowSeconds: 600, concurrency: 4 },
};

/** Share of each window left unspent: other clients of the same mailbox, clock skew between processes. */
export const SAFETY_MARGIN = 0.1;
/** Slots per window: the window is enforced over SLOTS + 1 slots, so a slot is the most it can over-cover. */
const SLOTS = 10;
/** How soon a draw refused only for concurrency asks again: the requests in flight end within milliseconds. */
const LEASE_RETRY_MS = 25;

type Db = Kysely<DB>;

export class DbQuotaBudget implements QuotaBudget {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly limits: QuotaLimits = DEFAULT_QUOTA_LIMITS,
  ) {}

  /** Units a window may spend: the limit less the safety margin. */
  capacity(provider: Provider): number {
    return Math.max(1, Math.floor(this.limits[provider].perWindow * (1 - SAFETY_MARGIN)));
  }

  async acquire(provider: Provider, address: string, units: number, holdMs: number): Promise<{ ok: true; lease: string } | { ok: false; waitMs: number }> {
    const limit = this.limits[provider];
    const cap = this.capacity(provider);
    const slotMs = (limit.windowSeconds * 1000) / SLOTS;
    const key = address.toLowerCase();
    return this.db.transaction().execute(async (trx) => {
      const now = this.clock.now();
      const t = now.getTime();
      const slot = Math.floor(t / slotMs);
      const locked = () => trx.selectFrom('quota_budgets').select(['slots', 'leases']).where('provider', '=', provider).where('address', '=', key).forUpdate().executeTakeFirst();
      let row = await locked();
      if (!row) {
        await trx.insertInto('quota_budgets').values({ provider, address: key, slots: '{}', leases: '[]', updated_at: now }).onConflict((oc) => oc.columns(['provider', 'address']).doNothing()).execute();
        row = (await locked())!;
      }
      // Slots older than the enforced window and lapsed leases (a process that died mid-call) are forgotten.
      const slots = new Map<number, number>();
      for (const [k, v] of Object.entries(row.slots)) if (Number(k) > slot - SLOTS - 1) slots.set(Number(k), v);
      const leases = row.leases.filter((l) => l.until > t);
      if (leases.length >= limit.concurrency) return { ok: false, waitMs: LEASE_RETRY_MS };
      const usedFrom = (first: number) => [...slots].reduce((sum, [k, v]) => (k >= first ? sum + v : sum), 0);
      const used = usedFrom(slot - SLOTS);
      // A single call dearer than a whole window goes alone into an empty one: it cannot be split.
      if (used > 0 && used + units > cap) {
        let next = slot + 1;
        while (usedFrom(next - SLOTS) > 0 && usedFrom(next - SLOTS) + units > cap) next++;
        return { ok: false, waitMs: next * slotMs - t + 1 };
      }
      slots.set(slot, (slots.get(slot) ?? 0) + units);
      const lease = randomUUID();
      leases.push({ id: lease, until: t + holdMs });
      await trx
        .updateTable('quota_budgets')
        .set({ slots: JSON.stringify(Object.fromEntries(slots)), leases: JSON.stringify(leases), updated_at: now })
        .where('provider', '=', provider)
        .where('address', '=', key)
        .execute();
      return { ok: true, lease };
    });
  }

  async release(provider: Provider, address: string, lease: string): Promise<void> {
    await this.db
      .updateTable('quota_budgets')
      .set({ leases: sql`coalesce((SELECT jsonb_agg(e) FROM jsonb_array_elements(leases) e WHERE e->>'id' <> ${lease}), '[]'::jsonb)` })
      .where('provider', '=', provider)
      .where('address', '=', address.toLowerCase())
      .execute();
  }
}

const defaults = new WeakMap<Db, DbQuotaBudget>();
let configured: QuotaLimits = DEFAULT_QUOTA_LIMITS;

/** The limits of this process's budgets (configuration: `GMAIL_QUOTA_UNITS_PER_MINUTE`, `GRAPH_QUOTA_REQUESTS_PER_10_MINUTES`). */
export function configureQuotaLimits(perWindow: { google: number; microsoft: number }): void {
  configured = {
    google: { ...DEFAULT_QUOTA_LIMITS.google, perWindow: perWindow.google },
    microsoft: { ...DEFAULT_QUOTA_LIMITS.microsoft, perWindow: perWindow.microsoft },
  };
}

/** What a caller needs to draw on a mailbox's budget: the database, the clock, and a budget of its own if configured. */
export interface BudgetDeps {
  db: Db;
  clock: Clock;
  quota?: QuotaBudget | undefined;
}

/** The budget of `deps`: the configured one, else the database's with the providers' published limits. */
export function quotaBudgetOf(deps: BudgetDeps): QuotaBudget {
  if (deps.quota) return deps.quota;
  let budget = defaults.get(deps.db);
  if (!budget) {
    budget = new DbQuotaBudget(deps.db, deps.clock, configured);
    defaults.set(deps.db, budget);
  }
  return budget;
}

/**
 * Runs `body` with every provider call it makes drawing on the mailbox's budget (sync runs, sending, calendar
 * events, attachment downloads). `address` null (a grant stored without one) keys the budget by the grant.
 */
export function withMailboxBudget<T>(deps: BudgetDeps, provider: Provider, address: string | null, authorizationId: string, body: () => Promise<T>): Promise<T> {
  const key = address?.trim().toLowerCase() || `grant:${authorizationId}`;
  return withQuotaScope({ provider, address: key, budget: quotaBudgetOf(deps) }, body);
}
