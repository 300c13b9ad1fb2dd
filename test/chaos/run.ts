// The long form of the chaos test: `npm run test:chaos -- --runs N [--seed S] [--provider google|microsoft|both]
// [--steps K] [--size demo|tiny|<count>] [--minutes M] [--chaos-seconds S]` (--chaos-seconds: how long the schedule may go on
// waiting for the incremental sync with push up, 90 by default; on a loaded machine a Microsoft historical sync of the
// demo mailbox under faults and kills can take most of that). Needs a Postgres server (TEST_DATABASE_URL, or DATABASE_URL). Prints
// one line per run (seed, faults injected by kind, kills, messages compared) and a summary; a failed run prints
// its seed and the missing / duplicated / extra Message-IDs. Exits 1 when any run failed. CHAOS_LOG_FILE=<path> appends
// the worker processes' logs there; CHAOS_DEBUG=1 prints the grant's state and jobs when the chaos phase ends.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { CHAOS_FAULTS, chaosRun, formatReport, postgresReachable, startChaosWorld, type RunReport } from './harness.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    seed: { type: 'string' },
    provider: { type: 'string', default: 'both' },
    steps: { type: 'string', default: '40' },
    size: { type: 'string', default: 'demo' },
    'no-moves': { type: 'boolean', default: false },
    minutes: { type: 'string' },
    'chaos-seconds': { type: 'string' },
  },
});
const runs = Number(values.runs);
const providers = values.provider === 'both' ? (['google', 'microsoft'] as const) : ([values.provider] as const);
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');
for (const p of providers) if (p !== 'google' && p !== 'microsoft') throw new Error('--provider must be google, microsoft or both');
const size = values.size === 'demo' || values.size === 'tiny' ? values.size : Number(values.size);
const server = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL;
if (!(await postgresReachable(server))) {
  process.stderr.write('The chaos test needs a Postgres server: set TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test).\n');
  process.exit(2);
}
const base = values.seed ?? randomBytes(4).toString('hex');
// One run keeps the seed as given, so that a failed run's printed seed replays it exactly.
const seedOf = (i: number) => (runs === 1 ? base : `${base}.${i + 1}`);
process.stdout.write(`chaos: ${runs} run(s) per provider (${providers.join(', ')}), seed ${base}, ${values.steps} events per run, mailbox ${values.size}\n`);

const world = await startChaosWorld({ serverUrl: server! });
const reports: RunReport[] = [];
// --minutes: no new round starts after this long (the summary then says how many runs fitted).
const stopAt = values.minutes ? Date.now() + Number(values.minutes) * 60_000 : Number.POSITIVE_INFINITY;
try {
  for (let i = 0; i < runs && Date.now() < stopAt; i++) {
    for (const provider of providers) {
      const report = await chaosRun(world, {
        provider: provider as 'google' | 'microsoft',
        seed: seedOf(i),
        steps: Number(values.steps),
        size,
        moves: !values['no-moves'],
        ...(values['chaos-seconds'] ? { chaosMs: Number(values['chaos-seconds']) * 1000 } : {}),
      });
      reports.push(report);
      process.stdout.write(`${formatReport(report)}\n`);
    }
  }
} finally {
  await world.close();
}

const sum = (f: (r: RunReport) => number) => reports.reduce((a, r) => a + f(r), 0);
process.stdout.write('\nsummary\n');
for (const provider of providers) {
  const mine = reports.filter((r) => r.provider === provider);
  const faults = CHAOS_FAULTS.map((k) => `${k}=${mine.reduce((a, r) => a + (r.faults[k] ?? 0), 0)}`).join(' ');
  process.stdout.write(
    `  ${provider}: runs=${mine.length} failed=${mine.filter((r) => !r.ok).length} faults[${faults}] met=${mine.reduce((a, r) => a + r.faultsMet, 0)} ` +
      `kills=${mine.reduce((a, r) => a + r.kills, 0)} compared=${mine.reduce((a, r) => a + r.compared, 0)} ` +
      `duplicated-notifications=${mine.reduce((a, r) => a + r.notifications.duplicated, 0)} reordered=${mine.reduce((a, r) => a + r.notifications.reordered, 0)} ` +
      `drop-windows=${mine.reduce((a, r) => a + r.notifications.dropWindows, 0)} deleted=${mine.reduce((a, r) => a + r.deleted, 0)} moved=${mine.reduce((a, r) => a + r.moved, 0)}\n`,
  );
}
const failed = reports.filter((r) => !r.ok);
process.stdout.write(`  total: ${reports.length} runs, ${failed.length} failed, ${sum((r) => r.compared)} messages compared, ${sum((r) => r.kills)} kills\n`);
for (const r of failed) process.stdout.write(`  failed: ${r.provider} seed=${r.seed}\n`);
process.exit(failed.length ? 1 : 0);
