/**
 * Figure 5 of DESIGN.md "Performance": latency of a candidate's Messages tab with a million stored messages.
 *
 * One contract with many seats and candidates is filled with synthetic stored mail in bulk (SQL generate_series):
 * threads of four messages between a seat and a candidate, a quarter of the threads shared with the contract and
 * the rest private, one seat in ten transferred a year ago (the former holder's private mail then visible to nobody,
 * R-62). Then the read path of `GET /api/v1/candidates/{id}/messages` — `listCandidateMessages`, with the
 * visibility predicate of src/store/visibility.ts — is timed for random candidates and viewers.
 */
import os from 'node:os';
import { sql } from 'kysely';
import pg from 'pg';
import { createRng } from '../sim/generator/index.ts';
import { candidateMessagesStatement, listCandidateMessages } from '../src/services/messages.ts';
import type { Actor } from '../src/services/actors.ts';
import { openDatabase, type Database } from '../src/store/database.ts';
import { migrateToLatest } from '../src/store/migrate.ts';
import { openBenchDatabase, percentile, postgresReachable, serverUrl, type BenchContext } from './world.ts';

const CONTRACT = '00000000-0000-4000-8000-00000000c0de';
const MESSAGES_PER_THREAD = 4;

interface Shape {
  messages: number;
  seats: number;
  candidates: number;
}

const uuid = (prefix: string, n: string) => `md5('${prefix}' || ${n})::uuid`;

/** Fills one contract with `shape.messages` stored messages; deterministic, so every backend holds the same rows. */
async function fill(database: Database, shape: Shape): Promise<void> {
  const { seats, candidates, messages } = shape;
  const threads = Math.ceil(messages / MESSAGES_PER_THREAD);
  const moved = Math.ceil(seats / 10);
  const SEAT_OF_THREAD = `(t::bigint * 2654435761 % 4294967291) % ${seats} + 1`;
  const SHARED_THREAD = `(t::bigint * 40503 % 65521) % 4 = 0`;
  const statements = [
    `INSERT INTO contracts (id, name, status, company_domains, email_provider, email_access, calendar_enabled, created_at, updated_at)
     VALUES ('${CONTRACT}', 'Messages tab', 'active', '{tab.test}', 'google', 'view', false, now(), now())`,
    // Users 1..seats hold the seats now; users seats+1..seats+moved held the first `moved` seats until a year ago.
    `INSERT INTO users (id, contract_id, email, name, role, created_at)
     SELECT ${uuid('user', 'i')}, '${CONTRACT}', 'recruiter' || i || '@tab.test', 'Recruiter ' || i, 'recruiter', now() - interval '3 years'
     FROM generate_series(1, ${seats + moved}) i`,
    `INSERT INTO seats (id, contract_id, user_id, status, created_at)
     SELECT ${uuid('seat', 'i')}, '${CONTRACT}', ${uuid('user', 'i')}, 'active', now() - interval '3 years' FROM generate_series(1, ${seats}) i`,
    `INSERT INTO seat_holders (seat_id, contract_id, user_id, held_from, held_until)
     SELECT ${uuid('seat', 'i')}, '${CONTRACT}', ${uuid('user', 'i')}, CASE WHEN i <= ${moved} THEN now() - interval '1 year' ELSE now() - interval '3 years' END, NULL
     FROM generate_series(1, ${seats}) i`,
    `INSERT INTO seat_holders (seat_id, contract_id, user_id, held_from, held_until)
     SELECT ${uuid('seat', 'i')}, '${CONTRACT}', ${uuid('user', `(${seats} + i)`)}, now() - interval '3 years', now() - interval '1 year'
     FROM generate_series(1, ${moved}) i`,
    `INSERT INTO candidates (id, contract_id, name, email_discovery, created_at, updated_at)
     SELECT ${uuid('cand', 'i')}, '${CONTRACT}', 'Candidate ' || i, 'anyone', now() - interval '2 years', now() FROM generate_series(1, ${candidates}) i`,
    // Thread t: candidate (t · 7919 mod candidates) + 1; its seat and its visibility from a hash of t, so that a
    // candidate's threads belong to different seats; last active up to two years ago.
    `INSERT INTO mail_threads (id, contract_id, owner_seat_id, provider, provider_thread_id, candidate_id, counterpart, subject, last_activity_at, initiated_through_product, created_at)
     SELECT ${uuid('thread', 't')}, '${CONTRACT}', ${uuid('seat', `(${SEAT_OF_THREAD})`)}, 'google', 'thread-' || t, ${uuid('cand', `((t::bigint * 7919) % ${candidates} + 1)`)},
            'candidate' || ((t::bigint * 7919) % ${candidates} + 1) || '@mail.example', 'Conversation ' || t, now() - ((t % 730) || ' days')::interval, false, now() - ((t % 730) || ' days')::interval
     FROM generate_series(1, ${threads}) t`,
    // Message m of thread t = (m - 1) / 4 + 1: stored when sent; owned by whoever held the seat then.
    `INSERT INTO mail_messages (id, contract_id, owner_seat_id, owner_user_id, thread_id, candidate_id, provider_message_id, rfc_message_id, direction, from_address, from_name,
                                to_addresses, cc_addresses, counterpart, subject, sent_at, snippet, body_html, body_text, visibility, origin, stored_at)
     SELECT ${uuid('message', 'm')}, '${CONTRACT}', ${uuid('seat', 'seat_n')},
            CASE WHEN seat_n <= ${moved} AND sent < now() - interval '1 year' THEN ${uuid('user', `(${seats} + seat_n)`)} ELSE ${uuid('user', 'seat_n')} END,
            ${uuid('thread', 't')}, ${uuid('cand', 'cand_n')}, 'msg-' || m, '<' || m || '@mail.example>',
            CASE WHEN m % 2 = 0 THEN 'outbound' ELSE 'inbound' END, 'candidate' || cand_n || '@mail.example', 'Candidate ' || cand_n,
            jsonb_build_array(jsonb_build_object('address', 'recruiter' || seat_n || '@tab.test')), '[]'::jsonb, 'candidate' || cand_n || '@mail.example',
            'Re: Conversation ' || t, sent, left(body, 200), '<p>' || body || '</p>', body,
            CASE WHEN shared THEN 'contract' ELSE 'private' END, 'synced', sent
     FROM (
       SELECT m, t, ${SEAT_OF_THREAD} AS seat_n, ${SHARED_THREAD} AS shared, (t::bigint * 7919) % ${candidates} + 1 AS cand_n,
              now() - ((t % 730) || ' days')::interval - ((${MESSAGES_PER_THREAD} - (m - 1) % ${MESSAGES_PER_THREAD}) || ' hours')::interval AS sent,
              repeat(md5(m::text) || ' ', 12) AS body
       FROM (SELECT m, (m - 1) / ${MESSAGES_PER_THREAD} + 1 AS t FROM generate_series(1, ${messages}) m) numbered
     ) g`,
    // One inbound message in four carries a CV.
    `INSERT INTO mail_attachments (id, contract_id, message_id, filename, content_type, size_bytes)
     SELECT ${uuid('attachment', 'm')}, '${CONTRACT}', ${uuid('message', 'm')}, 'CV ' || m || '.pdf', 'application/pdf', 40000 + m % 200000
     FROM generate_series(1, ${messages}) m WHERE m % 8 = 1`,
  ];
  for (const statement of statements) await database.raw.exec(statement);
  await settle(database);
}

/**
 * A table at rest, as a running database keeps it: vacuumed (tuples' commit status recorded, the visibility map
 * set) and analyzed, its bulk load's WAL checkpointed. Without this the first reads of freshly loaded pages write
 * them back and a checkpoint runs during the timing.
 */
async function settle(database: Database): Promise<void> {
  await database.raw.exec('VACUUM (ANALYZE)');
  await database.raw.exec('CHECKPOINT');
}


interface Pair {
  candidateId: string;
  userId: string;
}

/** `count` random (candidate, viewer) pairs: a random candidate read by the holder of a random seat. */
async function pairs(database: Database, shape: Shape, count: number, seed: string): Promise<Pair[]> {
  const rng = createRng(seed);
  const picks = Array.from({ length: count }, () => ({ c: rng.int(1, shape.candidates), u: rng.int(1, shape.seats) }));
  const { rows } = await sql<Pair>`SELECT md5('cand' || p.c)::uuid::text AS "candidateId", md5('user' || p.u)::uuid::text AS "userId"
    FROM jsonb_to_recordset(${JSON.stringify(picks)}::jsonb) AS p(c int, u int)`.execute(database.db);
  return rows;
}

const actorOf = ({ userId }: Pair): Actor => ({ kind: 'user', userId, contractId: CONTRACT, role: 'recruiter', via: 'session' });

/**
 * The statement the Messages tab sends, explained with its execution for one read: the scans of the plan, the
 * buffers it touched and the planning and execution times, as Postgres reports them.
 */
async function plan(database: Database, pair: Pair): Promise<string> {
  const statement = candidateMessagesStatement(database.db, { userId: pair.userId, contractId: CONTRACT }, pair.candidateId);
  // The first run reads the catalog into the session; the second is the one a warm connection sees.
  let lines: string[] = [];
  for (let i = 0; i < 2; i++) {
    const { rows } = await database.raw.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${statement.sql}`, [...statement.parameters]);
    lines = rows.map((r) => r['QUERY PLAN']);
  }
  if (process.env.BENCH_VERBOSE) console.log(lines.join('\n'));
  const scans = lines
    .map((l) => /(Seq Scan|Index Scan(?: Backward)?|Index Only Scan(?: Backward)?|Bitmap Heap Scan|Bitmap Index Scan) (?:using (\S+) )?on (\S+)(?: (\S+))?.*\(actual time=[\d.]+\.\.[\d.]+ rows=(\d+) loops=(\d+)\)/.exec(l))
    .filter((m) => m !== null)
    .map((m) => `${m[1]}${m[2] ? ` ${m[2]}` : ''} on ${m[3]} (rows ${m[5]}, loops ${m[6]})`);
  const unexecuted = lines.filter((l) => /never executed/.test(l)).length;
  const buffers = /Buffers: (shared [^\n]*)/.exec(lines.find((l) => l.includes('Buffers:')) ?? '')?.[1] ?? '?';
  const planning = /Planning Time: ([\d.]+)/.exec(lines.join('\n'))?.[1] ?? '?';
  const execution = /Execution Time: ([\d.]+)/.exec(lines.join('\n'))?.[1] ?? '?';
  return `${scans.join('; ')}${unexecuted ? ` (+${unexecuted} never executed)` : ''}; buffers ${buffers}; planning ${planning} ms, execution ${execution} ms`;
}

/** Times the Messages tab for random (candidate, viewer) pairs after `warmUp` untimed reads; latencies in ms, sorted. */
async function timeReads(database: Database, reads: Pair[], warmUp: number) {
  const ctx = { db: database.db, clock: { now: () => new Date() } };
  const latencies: number[] = [];
  let messages = 0;
  let threads = 0;
  let attachments = 0;
  // The plan is explained for a read that shows mail (many viewers see none of a given candidate's).
  let showing: Pair | undefined;
  const load = os.loadavg()[0]!;
  const cpu = process.cpuUsage();
  for (const [i, pair] of reads.entries()) {
    if (i === warmUp) Object.assign(cpu, process.cpuUsage());
    const started = performance.now();
    const result = await listCandidateMessages(ctx, actorOf(pair), pair.candidateId);
    const ms = performance.now() - started;
    if (result.length > 0) showing ??= pair;
    if (i < warmUp) continue;
    latencies.push(ms);
    threads += result.length;
    for (const thread of result) {
      messages += thread.messages.length;
      for (const message of thread.messages) attachments += message.attachments.length;
    }
  }
  const used = process.cpuUsage(cpu);
  const n = latencies.length;
  return {
    latencies: latencies.sort((a, b) => a - b),
    messages: messages / n,
    threads: threads / n,
    attachments: attachments / n,
    cpuMicros: (used.user + used.system) / n,
    load: [load, os.loadavg()[0]!],
    showing: showing ?? reads[0]!,
  };
}

/**
 * `BENCH_TAB_KEEP=1` keeps the Postgres database between runs (`rs_bench_tab_<messages>`, filled once), as filling
 * a million messages takes minutes; migrations still run on it.
 */
async function openTabDatabase(backend: 'postgres' | 'pglite', shape: Shape): Promise<{ database: Database; filled: boolean }> {
  if (backend === 'pglite' || !process.env.BENCH_TAB_KEEP) return { database: await openBenchDatabase(backend), filled: false };
  const name = `rs_bench_tab_${shape.messages}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const database = await openDatabase({ url: url.toString(), poolSize: 5 });
  await migrateToLatest(database);
  const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM mail_messages WHERE contract_id = ${CONTRACT}`.execute(database.db);
  const filled = Number(rows[0]!.n) === shape.messages;
  if (!filled && Number(rows[0]!.n) > 0) throw new Error(`${name} holds another shape: drop it`);
  if (filled) await settle(database);
  return { database, filled };
}

export async function benchMessagesTab({ full, report }: BenchContext): Promise<void> {
  const big: Shape = full ? { messages: 1_000_000, seats: 200, candidates: 50_000 } : { messages: 100_000, seats: 50, candidates: 5_000 };
  const samples = full ? 5000 : 1000;
  const warmUp = 500;
  const postgres = await postgresReachable();
  const runs: Array<{ backend: 'postgres' | 'pglite'; shape: Shape }> = [];
  if (postgres.ok) runs.push({ backend: 'postgres', shape: big });
  else console.log(`messagesTab.postgres: skipped (${postgres.reason})`);
  // Embedded: a million rows take minutes to insert and over 4 GiB of memory in PGlite, so it is measured smaller.
  runs.push({ backend: 'pglite', shape: full ? { messages: 200_000, seats: 100, candidates: 10_000 } : { messages: 30_000, seats: 30, candidates: 1_500 } });
  for (const { backend, shape } of runs) {
    const { database, filled } = await openTabDatabase(backend, shape);
    try {
      const started = performance.now();
      if (!filled) {
        console.log(`messagesTab.${backend}: filling ${shape.messages.toLocaleString('en')} messages…`);
        await fill(database, shape);
      }
      const fillSeconds = (performance.now() - started) / 1000;
      const reads = await pairs(database, shape, warmUp + samples, 'messages-tab');
      const { latencies, messages, threads, attachments, cpuMicros, load, showing } = await timeReads(database, reads, warmUp);
      const explained = backend === 'postgres' ? await plan(database, showing) : '';
      const n = `${shape.messages.toLocaleString('en')} messages`;
      const note =
        `${n}, ${shape.seats} seats, ${shape.candidates.toLocaleString('en')} candidates; ${samples.toLocaleString('en')} reads by random holders of random candidates after ${warmUp} untimed, ` +
        `${messages.toFixed(1)} visible messages (${attachments.toFixed(1)} attachments) in ${threads.toFixed(1)} threads on average, one statement per read; ` +
        `Node CPU ${cpuMicros.toFixed(0)} µs per read; ${filled ? 'filled before' : `filled in ${fillSeconds.toFixed(0)} s`}; load average ${load[0]!.toFixed(1)} → ${load[1]!.toFixed(1)} on ${os.cpus().length} cores` +
        (explained ? `; plan: ${explained}` : '');
      report(`messagesTab.${backend}.p50`, percentile(latencies, 50), 'ms', note);
      report(`messagesTab.${backend}.p99`, percentile(latencies, 99), 'ms', `${n}; p90 ${percentile(latencies, 90).toFixed(2)} ms, p99.9 ${percentile(latencies, 99.9).toFixed(2)} ms, max ${latencies[latencies.length - 1]!.toFixed(2)} ms`);
    } finally {
      await database.close();
    }
  }
}
