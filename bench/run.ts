/**
 * Benchmarks: print one line per figure with its unit and write them to bench/results/latest.json.
 * `npm run bench` runs the quick profile; `npm run bench -- --full` the published one.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateMailbox, summarize, toDeliverInputs } from '../sim/generator/index.ts';
import { startSimulators } from '../sim/server.ts';
import { benchFleet } from './fleet.ts';
import { benchIngest } from './ingest.ts';
import { benchMessagesRender } from './messages-render.ts';
import { benchMessagesTab } from './messages-tab.ts';
import { benchParse } from './parse.ts';
import { benchPushLatency } from './push-latency.ts';
import { benchScaleOut } from './scale-out.ts';
import { benchSyncQuota } from './sync.ts';

const full = process.argv.includes('--full');
/** `--only sync,ingest`: run only these groups (generator, sync, parse, ingest, messagesTab, scaleOut, fleet, push, render). */
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt >= 0 ? new Set((process.argv[onlyAt + 1] ?? '').split(',').filter(Boolean)) : null;
const wanted = (group: string) => only === null || only.has(group);
const figures: Array<{ name: string; value: number; unit: string; note?: string }> = [];
const report = (name: string, value: number, unit: string, note?: string) => {
  figures.push({ name, value, unit, ...(note ? { note } : {}) });
  console.log(`${name}: ${Number.isInteger(value) ? value : value.toFixed(2)} ${unit}${note ? `  (${note})` : ''}`);
};

const now = new Date('2026-11-01T12:00:00Z');
const owner = { address: 'riley@northwind.example', name: 'Riley Recruiter' };
const size = full ? 20_000 : 5_000;

// 1. Generating a mailbox of the benchmark's shape (14 months, ~3 % one-to-one with pipeline candidates).
if (wanted('generator')) await benchGenerator();
async function benchGenerator(): Promise<void> {
  let started = performance.now();
  const mailbox = generateMailbox({ seed: 'bench', owner, companyDomain: 'northwind.example', now, size, candidateShare: 0.03 });
  const generateMs = performance.now() - started;
  const stats = summarize(mailbox);
  report('generator.messages', stats.messages, 'messages');
  report('generator.time', generateMs / 1000, 's', `${size.toLocaleString('en')} messages`);
  report('generator.rate', stats.messages / (generateMs / 1000), 'messages/s');
  report('generator.expectedIngested', stats.byRule.ingested ?? 0, 'messages', 'oracle: ingested under SPEC §4 at authorization now');

  // 2. Composing its MIME once, then delivering it into a simulated Gmail and a Graph mailbox.
  started = performance.now();
  const inputs = await toDeliverInputs(mailbox.messages);
  report('generator.compose', (performance.now() - started) / 1000, 's', `RFC 5322 for ${inputs.length.toLocaleString('en')} messages`);
  const sim = await startSimulators({ port: 0, now });
  try {
    for (const provider of ['google', 'microsoft'] as const) {
      const address = `${provider}.${owner.address}`;
      await fetch(`${sim.url}/_sim/mailboxes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ provider, address }) });
      started = performance.now();
      const ids = await sim.state.mail.deliverMany(address, inputs);
      report(`simulator.${provider}.deliver`, (performance.now() - started) / 1000, 's', `${ids.length.toLocaleString('en')} messages`);
    }
  } finally {
    await sim.close();
  }
}

// The sync figures of DESIGN.md "Performance": quota and wall time (1, 2), MIME parsing and ingest (3), Messages tab (5), scale-out (6), fleet onboarding.
const groups = { sync: benchSyncQuota, parse: benchParse, ingest: benchIngest, messagesTab: benchMessagesTab, scaleOut: benchScaleOut, fleet: benchFleet } as const;
for (const [group, bench] of Object.entries(groups)) if (wanted(group)) await bench({ full, report });
// Push-to-visible latency (4).
if (wanted('push')) await benchPushLatency({ full, report });
// The Messages tab's first render in headless Chromium for a candidate with 500 messages.
if (wanted('render')) await benchMessagesRender({ full, report });

const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
// A partial run (`--only`) keeps the complete results apart.
const out = path.resolve(only === null ? 'bench/results/latest.json' : `bench/results/latest-${[...only].join('-')}.json`);
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, `${JSON.stringify({ profile: full ? 'full' : 'quick', ...(only === null ? {} : { only: [...only] }), at: new Date().toISOString(), machine, figures }, null, 2)}\n`);
console.log(`machine: ${machine}\nwritten: ${path.relative(process.cwd(), out)}`);
