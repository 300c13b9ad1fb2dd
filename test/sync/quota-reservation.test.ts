import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Clock } from '../../src/clock.ts';
import type { QuotaReservation } from '../../src/providers/budget.ts';
import { DbQuotaBudget, type QuotaLimits } from '../../src/sync/quota-budget.ts';
import type { Database } from '../../src/store/database.ts';
import { backends } from '../helpers/databases.ts';

/**
 * R-27 for a sync run: its calls spend from a reservation that draws units in blocks and holds its places in flight
 * for the run, and gives back what it did not spend at the end. The budget stays exact across processes.
 */

/** Gmail: 900 units a window after the margin, so a block is 18 units (2 %); Graph: 4 requests in flight. */
const LIMITS: QuotaLimits = {
  google: { perWindow: 1_000, windowSeconds: 60, concurrency: 25 },
  microsoft: { perWindow: 10_000, windowSeconds: 600, concurrency: 4 },
};
const HOLD_MS = 35_000;

/** A product clock the test moves by hand, started at the beginning of a Gmail slot (6 s) so a test stays within one. */
class ManualClock implements Clock {
  constructor(private t: number) {}
  now(): Date {
    return new Date(this.t);
  }
  advance(ms: number): void {
    this.t += ms;
  }
}
const clockAtSlotStart = () => new ManualClock(Math.ceil(Date.now() / 600_000) * 600_000 + 1);

describe.each(backends.map((b) => b.name))('quota reservations on %s', (backendName) => {
  let database: Database;
  beforeAll(async () => {
    database = await backends.find((b) => b.name === backendName)!.open();
  });
  afterAll(async () => {
    await database?.close();
  });

  const row = async (provider: 'google' | 'microsoft', address: string) => {
    const r = await database.db.selectFrom('quota_budgets').select(['slots', 'leases']).where('provider', '=', provider).where('address', '=', address).executeTakeFirst();
    const charged = Object.values(r?.slots ?? {}).reduce((sum, v) => sum + v, 0);
    const leases = (r?.leases ?? []) as Array<{ id: string; until: number; n?: number }>;
    return { charged, leases };
  };
  const take = async (reservation: QuotaReservation, units: number) => {
    const grant = await reservation.take(units, HOLD_MS);
    if (!grant.ok) throw new Error(`refused, wait ${grant.waitMs} ms`);
    return grant.done;
  };

  it('one draw serves several calls; the unspent units and the places in flight are given back at the end', async () => {
    const budget = new DbQuotaBudget(database.db, clockAtSlotStart(), LIMITS);
    const draws = vi.spyOn(budget, 'draw');
    const address = `refund-${backendName}@quota.test`;
    const run = budget.reserve('google', address);
    for (let i = 0; i < 3; i++) (await take(run, 5))();
    expect(draws).toHaveBeenCalledTimes(1);
    // The block is counted as spent by everyone else while the run holds it.
    expect(await row('google', address)).toMatchObject({ charged: 18, leases: [{ n: 1 }] });
    await run.close();
    expect(await row('google', address)).toEqual({ charged: 15, leases: [] });
  });

  it('a block spent draws the next one, giving back what the first had left', async () => {
    const budget = new DbQuotaBudget(database.db, clockAtSlotStart(), LIMITS);
    const draws = vi.spyOn(budget, 'draw');
    const address = `exhaust-${backendName}@quota.test`;
    const run = budget.reserve('google', address);
    for (let i = 0; i < 4; i++) (await take(run, 5))();
    // 18 units: three calls of 5, and the fourth finds 3 left — given back, and a second block of 18 drawn.
    expect(draws).toHaveBeenCalledTimes(2);
    expect((await row('google', address)).charged).toBe(15 + 18);
    await run.close();
    expect(await row('google', address)).toEqual({ charged: 20, leases: [] });
  });

  it('a block is spent only within the slot it was charged to: later calls draw in their own slot', async () => {
    const clock = clockAtSlotStart();
    const budget = new DbQuotaBudget(database.db, clock, LIMITS);
    const draws = vi.spyOn(budget, 'draw');
    const address = `slot-${backendName}@quota.test`;
    const run = budget.reserve('google', address);
    (await take(run, 5))();
    clock.advance(6_000);
    (await take(run, 5))();
    expect(draws).toHaveBeenCalledTimes(2);
    await run.close();
    expect(await row('google', address)).toEqual({ charged: 10, leases: [] });
  });

  it('reservations of two processes at once never take more than the window, and what they spent stays charged', async () => {
    const clock = clockAtSlotStart();
    const a = new DbQuotaBudget(database.db, clock, LIMITS);
    const b = new DbQuotaBudget(database.db, clock, LIMITS);
    const address = `shared-${backendName}@quota.test`;
    let granted = 0;
    // 20 runs, 10 in each process, each making calls of 7 units until the budget refuses.
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const run = (i % 2 ? a : b).reserve('google', address);
        for (;;) {
          const grant = await run.take(7, HOLD_MS);
          if (!grant.ok) break;
          granted += 7;
          grant.done();
        }
        const { charged } = await row('google', address);
        expect(charged).toBeLessThanOrEqual(900);
        await run.close();
      }),
    );
    expect(granted).toBeLessThanOrEqual(900);
    // The window is used up to within one call, and after every run gave its blocks back exactly what was spent is charged.
    expect(granted).toBeGreaterThan(900 - 7 * 21);
    expect(await row('google', address)).toEqual({ charged: granted, leases: [] });
  });

  it('places in flight: a run holds one and grows when its calls overlap; other runs get what is left; a dead run’s lapse', async () => {
    const clock = clockAtSlotStart();
    const a = new DbQuotaBudget(database.db, clock, LIMITS);
    const b = new DbQuotaBudget(database.db, clock, LIMITS);
    const address = `inflight-${backendName}@quota.test`;
    const first = a.reserve('microsoft', address);
    const calls = [await take(first, 1), await take(first, 1), await take(first, 1)];
    expect((await row('microsoft', address)).leases).toMatchObject([{ n: 3 }]);
    const second = b.reserve('microsoft', address);
    const only = await take(second, 1);
    // Graph's 4 per mailbox are all held: a second call of either run waits.
    expect((await second.take(1, HOLD_MS)).ok).toBe(false);
    expect((await first.take(1, HOLD_MS)).ok).toBe(false);
    // A call that ends frees its place for its own run at once, without a draw.
    calls[0]!();
    const draws = vi.spyOn(a, 'draw');
    (await take(first, 1))();
    expect(draws).not.toHaveBeenCalled();
    only();
    await second.close();
    expect((await row('microsoft', address)).leases).toMatchObject([{ n: 3 }]);
    // The first run's process dies without closing: its places lapse with their lease, and a new run gets all four.
    clock.advance(HOLD_MS + 60_000 + 1);
    const third = b.reserve('microsoft', address);
    await Promise.all(Array.from({ length: 4 }, () => take(third, 1)));
    expect((await row('microsoft', address)).leases).toMatchObject([{ n: 4 }]);
    await third.close();
    expect((await row('microsoft', address)).leases).toEqual([]);
  });
});
