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
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Clock } from '../clock.ts';
import type { Provider } from '../domain/types.ts';
import { withQuotaScope, type QuotaBudget, type QuotaReservation, type QuotaScope } from '../providers/budget.ts';
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

/**
 * A run's block of units: this share of the window's capacity (at least what the call needs). Small beside the window,
 * so a run holding an unspent block for a moment hardly delays another process drawing on the same mailbox.
 */
const BLOCK_SHARE = 0.02;
/** A run's places in flight outlast its longest call by this much, so a run renews them about once a minute. */
const RESERVATION_LEASE_EXTRA_MS = 60_000;

type Db = Kysely<DB>;
/** A lease of `n` places in flight (a run's reservation); a call's own lease is one place (`n` absent). */
type Lease = { id: string; until: number; n?: number };
const places = (leases: readonly Lease[]): number => leases.reduce((sum, l) => sum + (l.n ?? 1), 0);

/** What a reservation asks of the budget in one draw. */
interface DrawRequest {
  lease: string;
  /** Units the next call needs (0: only the places in flight or their renewal). */
  units: number;
  /** Places in flight the run wants to hold. */
  share: number;
  holdMs: number;
  /** Units of an earlier block not spent, given back to the slot they were charged to. */
  refund?: { slot: number; units: number } | undefined;
}
type DrawResult = { ok: true; units: number; slot: number; share: number; until: number } | { ok: false; waitMs: number; share: number; until: number };

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
    return this.db.transaction().execute(async (trx) => {
      const row = await this.lockedRow(trx, provider, address);
      const leases = [...row.leases];
      if (places(leases) >= limit.concurrency) return { ok: false, waitMs: LEASE_RETRY_MS };
      const waitMs = row.waitFor(units, cap);
      if (waitMs > 0) return { ok: false, waitMs };
      row.slots.set(row.slot, (row.slots.get(row.slot) ?? 0) + units);
      const lease = randomUUID();
      leases.push({ id: lease, until: row.t + holdMs });
      await row.write(leases);
      return { ok: true, lease };
    });
  }

  /**
   * The mailbox's budget row, locked for the transaction (created on the first draw): its slots within the enforced
   * window and its leases not lapsed — older slots and the leases of a process that died mid-call are forgotten.
   */
  private async lockedRow(trx: Transaction<DB>, provider: Provider, address: string) {
    const slotMs = (this.limits[provider].windowSeconds * 1000) / SLOTS;
    const key = address.toLowerCase();
    const now = this.clock.now();
    const t = now.getTime();
    const slot = Math.floor(t / slotMs);
    const locked = () => trx.selectFrom('quota_budgets').select(['slots', 'leases']).where('provider', '=', provider).where('address', '=', key).forUpdate().executeTakeFirst();
    let row = await locked();
    if (!row) {
      await trx.insertInto('quota_budgets').values({ provider, address: key, slots: '{}', leases: '[]', updated_at: now }).onConflict((oc) => oc.columns(['provider', 'address']).doNothing()).execute();
      row = (await locked())!;
    }
    const slots = new Map<number, number>();
    for (const [k, v] of Object.entries(row.slots)) if (Number(k) > slot - SLOTS - 1) slots.set(Number(k), v);
    const usedFrom = (first: number) => [...slots].reduce((sum, [k, v]) => (k >= first ? sum + v : sum), 0);
    return {
      t,
      slot,
      slots,
      leases: row.leases.filter((l) => l.until > t),
      used: () => usedFrom(slot - SLOTS),
      /**
       * 0 when `units` fit the window now, else how long until the first slot where they do. A single call dearer
       * than a whole window goes alone into an empty one: it cannot be split.
       */
      waitFor(units: number, cap: number): number {
        const used = usedFrom(slot - SLOTS);
        if (used === 0 || used + units <= cap) return 0;
        let next = slot + 1;
        while (usedFrom(next - SLOTS) > 0 && usedFrom(next - SLOTS) + units > cap) next++;
        return next * slotMs - t + 1;
      },
      write: async (leases: readonly Lease[]) => {
        await trx
          .updateTable('quota_budgets')
          .set({ slots: JSON.stringify(Object.fromEntries(slots)), leases: JSON.stringify(leases), updated_at: now })
          .where('provider', '=', provider)
          .where('address', '=', key)
          .execute();
      },
    };
  }

  /** A run's reservation (`QuotaReservation`): blocks of units and places in flight, drawn by `draw`, given back by `settle`. */
  reserve(provider: Provider, address: string): QuotaReservation {
    return new DbReservation(this, this.clock, provider, address.toLowerCase(), (this.limits[provider].windowSeconds * 1000) / SLOTS, this.limits[provider].concurrency);
  }

  /**
   * One locked transaction for a reservation: gives back an earlier block's unspent units, takes a block of at least
   * `units` (up to BLOCK_SHARE of the window, as far as the window allows) in the current slot, and holds `share`
   * places in flight (fewer if other holders leave fewer; none → refused) until `holdMs` from now.
   */
  async draw(provider: Provider, address: string, request: DrawRequest): Promise<DrawResult> {
    const limit = this.limits[provider];
    const cap = this.capacity(provider);
    return this.db.transaction().execute(async (trx): Promise<DrawResult> => {
      const row = await this.lockedRow(trx, provider, address);
      const { slots, slot, t } = row;
      const refund = request.refund;
      if (refund && refund.units > 0 && slots.has(refund.slot)) slots.set(refund.slot, Math.max(0, slots.get(refund.slot)! - refund.units));
      const others = row.leases.filter((l) => l.id !== request.lease);
      const share = Math.min(request.share, limit.concurrency - places(others));
      if (share < 1) {
        await row.write(others);
        return { ok: false, waitMs: LEASE_RETRY_MS, share: 0, until: 0 };
      }
      const until = t + request.holdMs;
      const leases = [...others, { id: request.lease, until, n: share }];
      if (request.units <= 0) {
        await row.write(leases);
        return { ok: true, units: 0, slot, share, until };
      }
      const waitMs = row.waitFor(request.units, cap);
      if (waitMs > 0) {
        await row.write(leases);
        return { ok: false, waitMs, share, until };
      }
      const used = row.used();
      // A single call dearer than a whole window goes alone into an empty one, as with `acquire`.
      const units = used === 0 && request.units > cap ? request.units : Math.max(request.units, Math.min(Math.ceil(cap * BLOCK_SHARE), cap - used));
      slots.set(slot, (slots.get(slot) ?? 0) + units);
      await row.write(leases);
      return { ok: true, units, slot, share, until };
    });
  }

  /** The end of a reservation, in one statement: its unspent units back to their slot, its places in flight freed. */
  async settle(provider: Provider, address: string, lease: string, refund: { slot: number; units: number } | null): Promise<void> {
    const slot = String(refund?.slot ?? 0);
    const units = refund?.units ?? 0;
    await this.db
      .updateTable('quota_budgets')
      .set({
        slots: sql`CASE WHEN ${units}::int > 0 AND slots -> ${slot}::text IS NOT NULL THEN jsonb_set(slots, ARRAY[${slot}::text], to_jsonb(greatest(0, (slots ->> ${slot}::text)::int - ${units}::int))) ELSE slots END`,
        leases: sql`coalesce((SELECT jsonb_agg(e) FROM jsonb_array_elements(leases) e WHERE e->>'id' <> ${lease}), '[]'::jsonb)`,
      })
      .where('provider', '=', provider)
      .where('address', '=', address.toLowerCase())
      .execute();
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

/**
 * R-27 for a run of many calls: units are drawn in blocks and spent in the process, the run holds its places in
 * flight for its whole length (growing them only when its calls overlap), and the end gives back what is left. A
 * block is spent only within the slot it was charged to: the window counts a slot's units for SLOTS + 1 slots, which
 * covers the provider's window from any moment of that slot, not from a later one. Units a process that dies leaves
 * charged leave the window with their slot; its places in flight lapse with their lease.
 */
class DbReservation implements QuotaReservation {
  private readonly lease = randomUUID();
  private share = 0;
  private until = 0;
  private inFlight = 0;
  private block: { slot: number; left: number } | null = null;
  /** Draws of one reservation go one at a time (its calls may overlap). */
  private drawing: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly budget: DbQuotaBudget,
    private readonly clock: Clock,
    private readonly provider: Provider,
    private readonly address: string,
    private readonly slotMs: number,
    private readonly concurrency: number,
  ) {}

  /** Takes the call locally when the block and the places in flight allow it. */
  private takeLocally(units: number, holdMs: number): { ok: true; done: () => void } | null {
    const t = this.clock.now().getTime();
    const block = this.block;
    if (!block || block.slot !== Math.floor(t / this.slotMs) || block.left < units) return null;
    if (this.inFlight >= this.share || this.until < t + holdMs) return null;
    block.left -= units;
    this.inFlight++;
    let ended = false;
    return {
      ok: true,
      done: () => {
        if (ended) return;
        ended = true;
        this.inFlight--;
        // Overlapping calls over: the run keeps one place between its calls, not its peak.
        if (this.inFlight === 0 && this.share > 1) this.shrink();
      },
    };
  }

  async take(units: number, holdMs: number): Promise<{ ok: true; done: () => void } | { ok: false; waitMs: number }> {
    const local = this.takeLocally(units, holdMs);
    if (local) return local;
    const next = this.drawing.then(async (): Promise<{ ok: true; done: () => void } | { ok: false; waitMs: number }> => {
      // Another call of the run may have drawn meanwhile.
      const again = this.takeLocally(units, holdMs);
      if (again) return again;
      const t = this.clock.now().getTime();
      const block = this.block;
      const blockServes = block !== null && block.slot === Math.floor(t / this.slotMs) && block.left >= units;
      const refund = !blockServes && block && block.left > 0 ? { slot: block.slot, units: block.left } : undefined;
      const share = Math.min(this.concurrency, Math.max(1, this.inFlight >= this.share ? this.share + 1 : this.share));
      const result = await this.budget.draw(this.provider, this.address, { lease: this.lease, units: blockServes ? 0 : units, share, holdMs: holdMs + RESERVATION_LEASE_EXTRA_MS, refund });
      if (refund) this.block = null;
      this.share = result.share;
      this.until = result.until;
      if (!result.ok) return { ok: false, waitMs: result.waitMs };
      if (!blockServes) this.block = { slot: result.slot, left: result.units };
      // Granted units but no free place in flight (the run's other calls hold them all): ask again shortly.
      return this.takeLocally(units, holdMs) ?? { ok: false, waitMs: LEASE_RETRY_MS };
    });
    this.drawing = next.catch(() => undefined);
    return next;
  }

  /** Gives back the places beyond one: locally at once (the database still counts more until the draw), then in the budget. */
  private shrink(): void {
    this.share = 1;
    const next = this.drawing.then(async () => {
      if (this.share !== 1) return;
      const result = await this.budget.draw(this.provider, this.address, { lease: this.lease, units: 0, share: 1, holdMs: Math.max(1, this.until - this.clock.now().getTime()) });
      this.share = result.share;
      this.until = result.until;
    });
    this.drawing = next.catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.drawing;
    if (this.share === 0 && (this.block === null || this.block.left === 0)) return;
    const refund = this.block && this.block.left > 0 ? { slot: this.block.slot, units: this.block.left } : null;
    this.block = null;
    this.share = 0;
    this.until = 0;
    await this.budget.settle(this.provider, this.address, this.lease, refund);
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

/** The key of a mailbox's budget: its address, or the grant when it was stored without one. */
const budgetKey = (address: string | null, authorizationId: string): string => address?.trim().toLowerCase() || `grant:${authorizationId}`;

/**
 * The budget scope of a sync run: its calls spend from one reservation (`QuotaReservation`), drawn in blocks, which
 * the run closes at its end. A budget without reservations draws per call.
 */
export function runBudgetScope(deps: BudgetDeps, provider: Provider, address: string | null, authorizationId: string): QuotaScope {
  const key = budgetKey(address, authorizationId);
  const budget = quotaBudgetOf(deps);
  return { provider, address: key, budget, reservation: budget.reserve?.(provider, key) };
}

/**
 * Runs `body` with every provider call it makes drawing on the mailbox's budget (sync runs, sending, calendar
 * events, attachment downloads). `address` null (a grant stored without one) keys the budget by the grant.
 */
export function withMailboxBudget<T>(deps: BudgetDeps, provider: Provider, address: string | null, authorizationId: string, body: () => Promise<T>): Promise<T> {
  const key = budgetKey(address, authorizationId);
  return withQuotaScope({ provider, address: key, budget: quotaBudgetOf(deps) }, body);
}
