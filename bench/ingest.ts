/**
 * Figure 3 of DESIGN.md "Performance": ingest throughput with no provider limit — messages decided, parsed and
 * stored per second by the product's historical sync, on embedded PGlite and on the Postgres server.
 *
 * The provider is taken out of the measurement: the Gmail answers the sync asks for (its `q` pages of header
 * facts, and the raw MIME of every listed message) are read from the simulator once, then served from memory to
 * `runHistoricalSync`, so the figure is the product's own work — decisions, R-36 bookkeeping, MIME parsing and
 * sanitising, storage of messages, threads, attachments and the decision log, checkpoints. The recorded MIME is
 * given realistic bodies first (`realistic-mail.ts`; distribution in bench/README.md).
 *
 * Besides the rates it reports the Node CPU time per stored message (`process.cpuUsage` around the sync; on PGlite
 * that includes the embedded database, which runs in the process) and the database statements the sync issued per
 * stored message (every query through Kysely, plus BEGIN and COMMIT of each transaction).
 *
 * Standalone: `npx tsx bench/ingest.ts [--full]`.
 */
import { windowStart } from '../src/domain/ingestion/index.ts';
import type { HistoricalScanPage, MailClient, MailProviders } from '../src/providers/mail.ts';
import { accessTokenFor } from '../src/services/access-tokens.ts';
import { qualifyingAddresses, runHistoricalSync, type SyncDeps } from '../src/sync/engine.ts';
import { CandidateCache, loadSeatMailbox, type MessageFacts } from '../src/sync/ingest/index.ts';
import { realisticMime } from './realistic-mail.ts';
import { companyMailbox, connectCompany, countingDb, loadMailbox, openBenchDatabase, postgresReachable, startSim, startWorld, type BenchContext, type World } from './world.ts';

interface Recording {
  pages: HistoricalScanPage[];
  facts: Map<string, MessageFacts>;
  raw: Map<string, Uint8Array>;
}

/**
 * Serves recorded Gmail answers — the scan page by page, header facts and MIME by id — in place of the Gmail
 * client (whose other methods it inherits, unused by a historical sync).
 */
function replayClient(real: MailClient, recording: Recording): MailClient {
  const pick = <T>(map: Map<string, T>, ids: readonly string[]) => new Map(ids.flatMap((id) => (map.has(id) ? [[id, map.get(id)!] as const] : [])));
  const overrides: Pick<MailClient, 'historicalPage' | 'headers' | 'raw' | 'changesPage'> = {
    historicalPage: async (_token, input) => {
      const i = input.checkpoint ? Number(input.checkpoint.replayPage) : 0;
      const page = recording.pages[i]!;
      const last = i === recording.pages.length - 1;
      return { messages: page.messages, checkpoint: last ? null : { replayPage: i + 1 }, cursor: last ? page.cursor : null, estimate: page.estimate };
    },
    headers: async (_token, ids) => pick(recording.facts, ids),
    raw: async (_token, ids) => pick(recording.raw, ids),
    changesPage: async () => {
      throw new Error('the replay serves a historical sync only');
    },
  };
  return Object.assign(Object.create(real) as MailClient, overrides);
}

/** The Gmail answers a historical sync of this seat gets: the scan's pages, then the MIME of everything listed. */
async function record(world: World, authorizationId: string, seatId: string, realistic: boolean): Promise<Recording> {
  const { deps } = world;
  const client = deps.mail.client('google');
  const mailbox = await loadSeatMailbox(deps.db, seatId);
  const run = { deps, authorizationId, mailbox, client, candidates: new CandidateCache(deps.db) } as unknown as Parameters<typeof qualifyingAddresses>[0];
  const addresses = await qualifyingAddresses(run);
  const since = windowStart({ authorizedAt: mailbox.lastAuthorizedAt, firstAuthorizedAt: mailbox.firstAuthorizedAt });
  const pages: HistoricalScanPage[] = [];
  const facts = new Map<string, MessageFacts>();
  let checkpoint: Record<string, unknown> | null = null;
  do {
    const page = await client.historicalPage(await accessTokenFor(deps, authorizationId), { addresses, since, checkpoint });
    pages.push(page);
    for (const m of page.messages) facts.set(m.providerMessageId, m);
    checkpoint = page.checkpoint;
  } while (checkpoint !== null);
  const ids = [...facts.keys()];
  const raw = new Map<string, Uint8Array>();
  for (let i = 0; i < ids.length; i += 200) {
    for (const [id, bytes] of await client.raw(await accessTokenFor(deps, authorizationId), ids.slice(i, i + 200))) raw.set(id, bytes);
  }
  // Realistic bodies in place of the generated ones (headers kept: the decisions are the same).
  if (realistic) for (const [id, bytes] of raw) raw.set(id, realisticMime(bytes, id));
  return { pages, facts, raw };
}

/**
 * `generatedMime`: keep the generator's small MIME (a few KiB of text, the figure before realistic bodies), which
 * shows the storage side's cost without the parser's and sanitiser's.
 */
export async function benchIngest({ full, report }: BenchContext, { generatedMime = false }: { generatedMime?: boolean } = {}): Promise<void> {
  const size = full ? 12_000 : 1_200;
  const now = new Date(Math.ceil(Date.now() / 60_000) * 60_000 + 60_000);
  const sim = await startSim(now);
  // No provider limit: the recording reads as fast as it can.
  await sim.control('PUT', '/_sim/limits', { provider: 'google', perUserUnitsPerMinute: 1_000_000_000, concurrency: 1000 });
  const mailbox = companyMailbox('ingest', size, now, { seed: 'ingest', candidateShare: full ? 0.6 : 0.5 });
  await loadMailbox(sim.state, 'google', mailbox);
  let recording: Recording | undefined;
  const postgres = await postgresReachable();
  try {
    // BENCH_INGEST_BACKENDS=postgres (or pglite) runs one backend only (profiling one of them).
    const only = process.env.BENCH_INGEST_BACKENDS?.split(',');
    for (const backend of (['pglite', 'postgres'] as const).filter((b) => only === undefined || only.includes(b))) {
      if (backend === 'postgres' && !postgres.ok) {
        console.log(`ingest.postgres: skipped (${postgres.reason})`);
        continue;
      }
      const database = await openBenchDatabase(backend);
      const world = await startWorld(database, sim.url, now);
      try {
        const seat = await connectCompany(world, sim.control, 'google', mailbox);
        recording ??= await record(world, seat.authorizationId, seat.seatId, !generatedMime);
        const replay = replayClient(world.deps.mail.client('google'), recording);
        const mail: MailProviders = { ...world.deps.mail, client: () => replay };
        const counting = countingDb(world.deps.db);
        const deps: SyncDeps = { ...world.deps, db: counting.db, mail };
        const started = performance.now();
        const cpuBefore = process.cpuUsage();
        const outcome = await runHistoricalSync(deps, seat.authorizationId);
        const cpu = process.cpuUsage(cpuBefore);
        const elapsed = (performance.now() - started) / 1000;
        const statements = counting.statements();
        if (outcome !== 'completed') throw new Error(`historical sync ended ${outcome}`);
        const state = await world.api.ctx.db.selectFrom('sync_states').select(['messages_examined', 'messages_ingested']).where('authorization_id', '=', seat.authorizationId).executeTakeFirstOrThrow();
        const examined = state.messages_examined;
        const stored = state.messages_ingested;
        const prefix = generatedMime ? `ingest.generatedMime.${backend}` : `ingest.${backend}`;
        const mb = [...recording.raw.values()].reduce((sum, r) => sum + r.length, 0) / 2 ** 20;
        const note = `${examined.toLocaleString('en')} messages decided and logged, ${stored.toLocaleString('en')} of them parsed and stored, in ${elapsed.toFixed(1)} s; Gmail answers replayed from memory (${mb.toFixed(0)} MiB of MIME), ${recording.pages.length} page(s)`;
        report(`${prefix}.messages`, examined / elapsed, 'messages/s', note);
        report(`${prefix}.stored`, stored / elapsed, 'messages/s', 'parsed, sanitised and stored with threads, attachments and the decision');
        report(
          `${prefix}.cpuPerStored`,
          (cpu.user + cpu.system) / stored,
          'µs/message',
          `Node CPU time (user ${(cpu.user / 1e6).toFixed(1)} s + system ${(cpu.system / 1e6).toFixed(1)} s) per stored message${backend === 'pglite' ? ', the embedded database included' : ''}`,
        );
        report(`${prefix}.statementsPerStored`, statements / stored, 'statements/message', `${statements.toLocaleString('en')} statements through Kysely (queries, and BEGIN and COMMIT of each transaction)`);
      } finally {
        await world.close();
        await database.close();
      }
    }
  } finally {
    await sim.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await benchIngest(
    {
      full: process.argv.includes('--full'),
      report: (name, value, unit, note) => console.log(`${name}: ${Number.isInteger(value) ? value : value.toFixed(2)} ${unit}${note ? `  (${note})` : ''}`),
    },
    { generatedMime: process.argv.includes('--generated-mime') },
  );
}
