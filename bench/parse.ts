/**
 * MIME parsing side by side (`parse.*`): the parser as released (postal-mime 4.0.0), the same with the patch in
 * patches/ (what the product runs), that with `attachmentSizesOnly` (as the product calls it), and mailparser when it
 * is installed, on two corpora:
 * - `cpython`: CPython's email test messages (bench/corpus/cpython, PSF licence): small, odd, old mail;
 * - `recruiting`: a generated mailbox whose bodies are made realistic as in the ingest benchmark
 *   (`realistic-mail.ts`: HTML 20–100 KiB with a text alternative, quoted replies, inline signature images,
 *   CV attachments on a quarter of the messages).
 * For each: MiB of MIME per second, messages per second (wall time) and CPU microseconds per message (the
 * process's user + system time, which is the better figure on a shared machine). The candidates take turns,
 * round by round, so that a burst of load elsewhere does not fall on one of them only.
 *
 * Then the product's whole parse (`parseMime`: parsing, sanitising, plain text, snippet) before and after the
 * patch, and the same on a pool of worker threads (1 and 2 workers) against the calling thread alone, to see
 * whether parsing off the main thread pays on this machine.
 *
 * Standalone: `npx tsx bench/parse.ts [--full]`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Parser as HtmlParser } from 'htmlparser2';
import PostalMime from 'postal-mime';
import Unpatched from 'postal-mime-unpatched';
import { composeRaw, generateMailbox } from '../sim/generator/index.ts';
import { parseMime, parseMimeWith, type MimeParser } from '../src/sync/ingest/mime.ts';
import { sanitizeEmailHtml } from '../src/sync/ingest/sanitize.ts';
import { REALISTIC_MAIL, realisticMime } from './realistic-mail.ts';
import type { BenchContext } from './world.ts';

interface Candidate {
  key: string;
  parse: (raw: Uint8Array) => Promise<unknown>;
}

interface Corpus {
  key: string;
  messages: Uint8Array[];
  bytes: number;
  note: string;
}

const MIB = 2 ** 20;
const WORKER = new URL('./parse-worker.ts', import.meta.url).href;
const released: MimeParser = (raw, options) => Unpatched.parse(raw, options);

/** mailparser, when installed (it is not a dependency: `npm i --no-save mailparser@3.14.2` to include it). */
async function mailparser(): Promise<Candidate | null> {
  const name = 'mailparser';
  try {
    const mod = (await import(name)) as { simpleParser: (raw: Buffer, options: Record<string, boolean>) => Promise<unknown> };
    // Only the parse: no HTML-to-text or text-to-HTML conversion, no link detection.
    const options = { skipHtmlToText: true, skipTextToHtml: true, skipTextLinks: true, skipImageLinks: true };
    return { key: 'mailparser', parse: (raw) => mod.simpleParser(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength), options) };
  } catch {
    return null;
  }
}

function cpythonCorpus(): Corpus | null {
  const dir = path.resolve('bench/corpus/cpython');
  if (!fs.existsSync(dir)) return null;
  const messages = fs.readdirSync(dir).filter((f) => f.startsWith('msg_')).sort().map((f) => new Uint8Array(fs.readFileSync(path.join(dir, f))));
  const bytes = messages.reduce((n, m) => n + m.byteLength, 0);
  return { key: 'cpython', messages, bytes, note: `${messages.length} messages of CPython's email tests, ${(bytes / 1024).toFixed(1)} KiB` };
}

/** Generated recruiting mail with realistic bodies (the ingest benchmark's shapes). */
async function recruitingCorpus(size: number): Promise<Corpus> {
  const generated = generateMailbox({ seed: 'parse', owner: { address: 'rita@parse.test', name: 'Rita Recruiter' }, companyDomain: 'parse.test', now: new Date('2026-11-01T12:00:00Z'), size });
  const messages: Uint8Array[] = [];
  for (const m of generated.messages.slice(0, size)) messages.push(realisticMime(await composeRaw(m), m.key));
  const bytes = messages.reduce((n, m) => n + m.byteLength, 0);
  const cv = REALISTIC_MAIL.cvShare * 100;
  return { key: 'recruiting', messages, bytes, note: `${messages.length} generated messages, ${(bytes / MIB).toFixed(1)} MiB (HTML ${REALISTIC_MAIL.htmlKiB.join('–')} KiB, ${cv} % with a CV)` };
}

interface Totals {
  wallMs: number;
  cpuMicros: number;
  parsed: number;
  bytes: number;
}

/** Runs every candidate over the corpus `rounds` times, taking turns, after one warm-up pass each. */
async function measure(corpus: Corpus, candidates: Candidate[], rounds: number): Promise<Map<string, Totals>> {
  const totals = new Map(candidates.map((c) => [c.key, { wallMs: 0, cpuMicros: 0, parsed: 0, bytes: 0 }]));
  for (const c of candidates) for (const raw of corpus.messages) await c.parse(raw);
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < candidates.length; i++) {
      const c = candidates[(round + i) % candidates.length]!;
      const t = totals.get(c.key)!;
      const started = performance.now();
      const cpu = process.cpuUsage();
      for (const raw of corpus.messages) await c.parse(raw);
      const used = process.cpuUsage(cpu);
      t.wallMs += performance.now() - started;
      t.cpuMicros += used.user + used.system;
      t.parsed += corpus.messages.length;
      t.bytes += corpus.bytes;
    }
  }
  return totals;
}

function reportTotals(report: BenchContext['report'], prefix: string, t: Totals, note: string): void {
  const seconds = t.wallMs / 1000;
  report(`${prefix}.throughput`, t.bytes / MIB / seconds, 'MiB/s', note);
  report(`${prefix}.messages`, t.parsed / seconds, 'messages/s');
  report(`${prefix}.cpu`, t.cpuMicros / t.parsed, 'µs CPU/message');
}

/** Before ÷ after, of CPU time per message (the note gives the wall-time ratio of the same runs). */
function reportRatio(report: BenchContext['report'], name: string, before: Totals, after: Totals): void {
  const cpu = before.cpuMicros / before.parsed / (after.cpuMicros / after.parsed);
  const wall = before.wallMs / before.parsed / (after.wallMs / after.parsed);
  report(name, cpu, '× less CPU a message', `wall time ${wall.toFixed(2)} × less`);
}

/** A pool of worker threads running `parseMime`; messages are copied to the workers, results cloned back. */
class ParsePool {
  private readonly workers: Worker[];
  private readonly waiting = new Map<number, (value: unknown) => void>();
  private next = 0;

  constructor(size: number) {
    this.workers = Array.from({ length: size }, () => {
      // The worker loads TypeScript through tsx, as this process does (loader hooks are not inherited by workers).
      const worker = new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(WORKER)}); });`, { eval: true });
      worker.on('message', (answer: { id: number; parsed?: unknown; error?: string }) => {
        this.waiting.get(answer.id)?.(answer.parsed ?? answer.error);
        this.waiting.delete(answer.id);
      });
      return worker;
    });
  }

  parse(raw: Uint8Array): Promise<unknown> {
    const id = this.next++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.workers[id % this.workers.length]!.postMessage({ id, raw });
    });
  }

  close(): Promise<number[]> {
    return Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** The corpus through `parse` with up to `inFlight` messages under way at once (a sync's batch). */
async function throughPut(corpus: Corpus, parse: (raw: Uint8Array) => Promise<unknown>, inFlight: number): Promise<Totals> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  let next = 0;
  const lane = async () => {
    while (next < corpus.messages.length) await parse(corpus.messages[next++]!);
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  const used = process.cpuUsage(cpu);
  return { wallMs: performance.now() - started, cpuMicros: used.user + used.system, parsed: corpus.messages.length, bytes: corpus.bytes };
}

export async function benchParse({ full, report }: BenchContext): Promise<void> {
  const rounds = full ? 5 : 2;
  const candidates: Candidate[] = [
    { key: 'postalMime', parse: (raw) => Unpatched.parse(raw) },
    { key: 'postalMimePatched', parse: (raw) => PostalMime.parse(raw) },
    // As the product calls it: attachment content measured, not decoded (it keeps only name, type and size).
    { key: 'postalMimeSizesOnly', parse: (raw) => PostalMime.parse(raw, { attachmentSizesOnly: true }) },
  ];
  const other = await mailparser();
  if (other) candidates.push(other);
  else console.log('parse.*.mailparser: skipped (mailparser is not installed; `npm i --no-save mailparser@3.14.2` to include it)');

  const corpora: Corpus[] = [];
  const cpython = cpythonCorpus();
  if (cpython) {
    // Small messages: the corpus is repeated so that a round takes measurable time.
    const times = full ? 400 : 100;
    const messages = Array.from({ length: times }, () => cpython.messages).flat();
    corpora.push({ key: 'cpython', messages, bytes: cpython.bytes * times, note: `${cpython.note}, × ${times} a round` });
  } else {
    console.log('parse.cpython: skipped (bench/corpus/cpython is missing)');
  }
  const recruiting = await recruitingCorpus(full ? 1_000 : 200);
  corpora.push(recruiting);

  for (const corpus of corpora) {
    const totals = await measure(corpus, candidates, rounds);
    for (const c of candidates) reportTotals(report, `parse.${corpus.key}.${c.key}`, totals.get(c.key)!, `${corpus.note}; ${rounds} rounds`);
    reportRatio(report, `parse.${corpus.key}.patchedGain`, totals.get('postalMime')!, totals.get('postalMimePatched')!);
  }

  // The product's whole parse (parsing, sanitising, plain text, snippet), with the released and the patched parser.
  const product = await measure(
    recruiting,
    [
      { key: 'released', parse: (raw) => parseMimeWith(released, raw) },
      { key: 'patched', parse: (raw) => parseMime(raw) },
    ],
    rounds,
  );
  reportTotals(report, 'parse.product.released', product.get('released')!, `parseMime with postal-mime 4.0.0 as released; ${recruiting.note}`);
  reportTotals(report, 'parse.product.patched', product.get('patched')!, 'parseMime as the product runs it (patched parser)');
  reportRatio(report, 'parse.product.patchedGain', product.get('released')!, product.get('patched')!);

  // The product's parse stage by stage, beside the least each stage can cost: reading the message's bytes as text
  // once (any parser does at least that), and tokenizing its HTML with htmlparser2, the parser under sanitize-html,
  // with no handlers (any sanitiser built on it does at least that). Set beside the ingest target of 300 µs a message.
  const htmlOf = new Map<Uint8Array, string>();
  for (const raw of recruiting.messages) htmlOf.set(raw, (await PostalMime.parse(raw, { attachmentSizesOnly: true })).html ?? '');
  const utf8 = new TextDecoder();
  const stages = await measure(
    recruiting,
    [
      { key: 'sanitize', parse: async (raw) => sanitizeEmailHtml(htmlOf.get(raw)!) },
      { key: 'utf8Decode', parse: async (raw) => utf8.decode(raw) },
      { key: 'htmlTokenize', parse: async (raw) => new HtmlParser({}, { decodeEntities: true }).end(htmlOf.get(raw)!) },
    ],
    rounds,
  );
  const htmlKiB = [...htmlOf.values()].reduce((n, h) => n + h.length, 0) / recruiting.messages.length / 1024;
  const cpu = (key: string) => stages.get(key)!.cpuMicros / stages.get(key)!.parsed;
  report('parse.stage.sanitize', cpu('sanitize'), 'µs CPU/message', `sanitizeEmailHtml on each message's HTML (${htmlKiB.toFixed(1)} KiB on average), the rest of parseMime being the MIME parse (parse.recruiting.postalMimeSizesOnly)`);
  report('parse.floor.utf8Decode', cpu('utf8Decode'), 'µs CPU/message', `the message's ${(recruiting.bytes / recruiting.messages.length / 1024).toFixed(1)} KiB read once as UTF-8 text (TextDecoder): the least a parser does`);
  report('parse.floor.htmlTokenize', cpu('htmlTokenize'), 'µs CPU/message', `htmlparser2 tokenizing the message's HTML with no handlers: the least a sanitiser built on it does`);

  // Worker threads: the same parse on a pool of 1 and 2 workers, 16 messages under way, against the calling thread.
  const cores = os.availableParallelism();
  const inThread = await throughPut(recruiting, (raw) => parseMime(raw), 1);
  reportTotals(report, 'parse.pool.inThread', inThread, `parseMime on the calling thread; ${cores} cores`);
  for (const size of [1, 2]) {
    const pool = new ParsePool(size);
    try {
      for (const raw of recruiting.messages.slice(0, 40)) await pool.parse(raw);
      const t = await throughPut(recruiting, (raw) => pool.parse(raw), 16);
      reportTotals(report, `parse.pool.workers${size}`, t, `${size} worker thread(s), messages copied there and results cloned back; CPU of all threads`);
    } finally {
      await pool.close();
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const full = process.argv.includes('--full');
  const report = (name: string, value: number, unit: string, note?: string) => console.log(`${name}: ${value.toFixed(2)} ${unit}${note ? `  (${note})` : ''}`);
  await benchParse({ full, report });
}
