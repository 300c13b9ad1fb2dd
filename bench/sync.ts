/**
 * Figures 1 and 2 of DESIGN.md "Performance": quota spent by one historical sync of the standard mailbox — ours
 * (`runHistoricalSync`) against the full scan of mailbox-wide importers and against the lower bound — and the
 * wall time of each under the provider's default quota, against the quota-bound minimum.
 *
 * Time: the simulators' quota windows follow their clock, which runs at real speed here. A wait longer than two
 * seconds (a Retry-After to the end of the quota window) is not slept through: both clocks — the simulators'
 * and the product's — are moved forward by it and the wait is added to the measured time. The product's sync
 * does the same on its own (a long Retry-After re-queues the job for later by the product clock), so a wall time
 * here is the processing time measured plus the waits the provider imposed.
 */
import { RetryLaterError } from '../src/jobs/index.ts';
import { quotaCounters } from '../src/providers/budget.ts';
import { runHistoricalSync } from '../src/sync/engine.ts';
import { openBenchDatabase, companyMailbox, connectCompany, loadMailbox, oracleIngested, startSim, startWorld, type BenchContext, type Provider } from './world.ts';
import { fullScan, type FullScanResult, type Wait } from './full-scan.ts';

/** Provider quotas of the simulators' defaults (sim/core/limits.ts), as the providers publish them. */
const QUOTA = {
  google: { perWindow: 15_000, windowSeconds: 60, unit: 'units' },
  microsoft: { perWindow: 10_000, windowSeconds: 600, unit: 'requests' },
} as const;
/** Gmail: messages.list and messages.get cost 5 units; Graph counts requests. */
const LIST_PAGE = { google: 500, microsoft: 1000 } as const;
const GET_COST = { google: 5, microsoft: 1 } as const;
const LIST_COST = { google: 5, microsoft: 1 } as const;
/**
 * Reading a message's headers apart from its listing, before its body (R-41): Gmail lists ids only, so one
 * `messages.get?format=metadata` (5 units); Graph's list pages carry the headers (`$select`), so nothing more.
 */
const HEADERS_COST = { google: 5, microsoft: 0 } as const;

interface Usage {
  units: number;
  bodiesServed: number;
  requests: Record<string, number>;
  /** Requests the simulator refused for its quota or concurrency limit. */
  rateLimited: number;
}

export async function benchSyncQuota({ full, report }: BenchContext): Promise<void> {
  const size = full ? 20_000 : 5_000;
  const label = `${size.toLocaleString('en')}-message mailbox over 14 months, 3 % candidate mail`;
  const now = new Date(Math.ceil(Date.now() / 60_000) * 60_000 + 60_000);
  const sim = await startSim(now);
  sim.state.clock.setFrozen(false);
  const database = await openBenchDatabase('pglite');
  const world = await startWorld(database, sim.url, now);
  const clocks = { skippedMs: 0 };
  const skip = (ms: number) => {
    sim.state.clock.advance(ms);
    world.api.clock.set(new Date(world.api.clock.now().getTime() + ms));
    clocks.skippedMs += ms;
  };
  const wait: Wait = async (s) => {
    if (s <= 2) await new Promise((r) => setTimeout(r, s * 1000));
    else skip(s * 1000);
  };
  /** Each strategy begins in a fresh quota window, as a sync of a mailbox nobody else reads would. */
  const freshWindow = (provider: Provider) => {
    const windowMs = QUOTA[provider].windowSeconds * 1000;
    const t = sim.state.clock.now().getTime();
    const before = clocks.skippedMs;
    skip(Math.ceil((t + 1) / windowMs) * windowMs - t + 5);
    clocks.skippedMs = before;
  };
  const usageOf = async (provider: Provider, address: string): Promise<Usage> => {
    const usage = await sim.control('GET', '/_sim/usage');
    return usage[provider]?.[address.toLowerCase()] ?? { units: 0, bodiesServed: 0, requests: {}, rateLimited: 0 };
  };

  try {
    for (const provider of ['google', 'microsoft'] as const) {
      const mailbox = companyMailbox(`quota-${provider}`, size, now, { seed: 'standard' });
      await loadMailbox(sim.state, provider, mailbox);
      const seat = await connectCompany(world, sim.control, provider, mailbox);
      const q = QUOTA[provider];
      const unit = q.unit;

      /** One strategy from a fresh quota window with usage counted from zero: its spend and its wall time. */
      const measure = async (run: () => Promise<void>) => {
        freshWindow(provider);
        sim.state.usage.reset();
        sim.state.quota.resetRefusals();
        const skipped = clocks.skippedMs;
        const started = performance.now();
        await run();
        return { ms: performance.now() - started + (clocks.skippedMs - skipped), waitedMs: clocks.skippedMs - skipped, usage: await usageOf(provider, seat.address) };
      };
      // The full scans first: they store nothing, so our sync afterwards starts from the same empty product.
      let scan: FullScanResult | undefined;
      const scanned = await measure(async () => {
        scan = await fullScan(world.deps, provider, seat.authorizationId, sim.url, wait);
      });
      let inline: FullScanResult | undefined;
      const inlined = provider === 'microsoft' ? await measure(async () => {
        inline = await fullScan(world.deps, provider, seat.authorizationId, sim.url, wait, { inline: true });
      }) : undefined;
      let runs = 0;
      const waitsBefore = quotaCounters.budgetWaits[provider];
      const synced = await measure(async () => {
        for (;;) {
          runs++;
          try {
            const outcome = await runHistoricalSync(world.deps, seat.authorizationId);
            if (outcome !== 'completed') throw new Error(`historical sync ended ${outcome}`);
            return;
          } catch (error) {
            // What the job queue does with a long Retry-After: the same job again once it has passed.
            if (!(error instanceof RetryLaterError)) throw error;
            skip(Math.max(0, error.at.getTime() - world.api.clock.now().getTime()));
          }
        }
      });
      const ours = synced.usage;
      const scanUsage = scanned.usage;

      const expected = await oracleIngested(world, seat, mailbox.generated);
      const stored = await world.api.ctx.db.selectFrom('mail_messages').select('rfc_message_id').where('owner_seat_id', '=', seat.seatId).execute();
      const byMessageId = new Map(mailbox.generated.messages.map((m) => [m.messageId.replace(/^<|>$/g, '').toLowerCase(), m.key]));
      const storedKeys = stored.map((r) => byMessageId.get((r.rfc_message_id ?? '').replace(/^<|>$/g, '').toLowerCase()));
      const missed = [...expected].filter((k) => !storedKeys.includes(k)).length;
      const extra = storedKeys.filter((k) => k === undefined || !expected.has(k)).length;
      const ingested = expected.size;
      const pages = Math.max(1, Math.ceil(ingested / LIST_PAGE[provider]));
      const lower = LIST_COST[provider] * pages + GET_COST[provider] * ingested;
      // R-41: the headers decide before any body leaves the provider, so each qualifying message is read twice.
      const achievable = lower + HEADERS_COST[provider] * ingested;

      const p = `sync.quota.${provider}`;
      report(`${p}.ours`, ours.units, unit, `${label}; ${ours.bodiesServed} bodies served; ${stored.length} stored, oracle ${ingested}${missed || extra ? `, ${missed} missed, ${extra} extra` : ''}; ${requestSummary(ours.requests)}`);
      report(`${p}.fullScan`, scanUsage.units, unit, `list all, get all in full, filter after: ${scanUsage.bodiesServed} bodies served; the rules let ${scan!.ingested.size} in; ${requestSummary(scanUsage.requests)}`);
      if (inlined) {
        report(`${p}.fullScanInline`, inlined.usage.units, unit, `list all with bodies in the pages (1,000 a page), filter after: ${inlined.usage.bodiesServed} bodies served; the rules let ${inline!.ingested.size} in`);
      }
      report(`${p}.lowerBound`, lower, unit, `${pages} list page(s) of ${LIST_PAGE[provider]} + one get per ingested message (${ingested})`);
      report(
        `${p}.achievableBound`,
        achievable,
        unit,
        HEADERS_COST[provider] > 0
          ? `R-41, headers before any body: ${pages} list page(s) + one metadata read and one raw read per ingested message (${ingested})`
          : `R-41, headers before any body: the list pages carry the headers, so the same as the lower bound`,
      );
      report(`${p}.fullScanOverOurs`, scanUsage.units / ours.units, '×');
      report(`${p}.oursOverLowerBound`, ours.units / lower, '×');
      report(`${p}.oursOverAchievable`, ours.units / achievable, '×');

      const w = `sync.wallTime.${provider}`;
      const quota = `default quota ${q.perWindow.toLocaleString('en')} ${unit} per ${q.windowSeconds} s`;
      report(`${w}.ours`, synced.ms / 1000, 's', `${quota}; ${runs} run(s), ${(synced.waitedMs / 1000).toFixed(0)} s of it quota waits`);
      report(`${w}.ours.quotaMinimum`, quotaMinimum(provider, ours.units), 's', minimumNote(provider, ours.units));
      report(`${w}.fullScan`, scanned.ms / 1000, 's', `${quota}; ${scan!.throttled} throttled answer(s), ${(scanned.waitedMs / 1000).toFixed(0)} s of it quota waits`);
      report(`${w}.fullScan.quotaMinimum`, quotaMinimum(provider, scanUsage.units), 's', minimumNote(provider, scanUsage.units));
      if (inlined) report(`${w}.fullScanInline`, inlined.ms / 1000, 's', `${quota}; ${inline!.throttled} throttled answer(s)`);
      // R-27: what the product provoked at the simulators' default limits (its quota budget waits instead).
      const r = `sync.rateLimited.${provider}`;
      report(`${r}.ours`, ours.rateLimited, 'answers', `rate-limit answers the simulator gave our historical sync; ${quota}; ${quotaCounters.budgetWaits[provider] - waitsBefore} draw(s) waited for the budget`);
      report(`${r}.fullScan`, scanUsage.rateLimited, 'answers', 'the full scan, which has no budget, for comparison');
    }
  } finally {
    await world.close();
    await database.close();
    await sim.close();
  }
}

/**
 * The least time the quota holds a sync back, from the start of a fresh window: spending `units` takes
 * ceil(units / budget) windows, and the last one opens (windows − 1) whole windows after the first.
 */
function quotaMinimum(provider: Provider, units: number): number {
  const q = QUOTA[provider];
  return (Math.max(1, Math.ceil(units / q.perWindow)) - 1) * q.windowSeconds;
}

function minimumNote(provider: Provider, units: number): string {
  const q = QUOTA[provider];
  const windows = Math.max(1, Math.ceil(units / q.perWindow));
  const rate = (units / q.perWindow) * q.windowSeconds;
  return `${units.toLocaleString('en')} ${q.unit} = ${windows} quota window(s) of ${q.windowSeconds} s; at the sustained rate (${q.unit} / ${q.perWindow.toLocaleString('en')} per ${q.windowSeconds} s) ${rate.toFixed(0)} s`;
}

function requestSummary(requests: Record<string, number>): string {
  return Object.entries(requests)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 4)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}
