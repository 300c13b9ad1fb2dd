/**
 * Figure 5 of DESIGN.md "Performance": latency of a candidate's Messages tab with a million stored messages.
 *
 * One contract with many seats and candidates is filled with synthetic stored mail in bulk (SQL generate_series):
 * threads of four messages between a seat and a candidate, a quarter of the threads shared with the contract and
 * the rest private, one seat in ten transferred a year ago (the former holder's private mail then visible to nobody,
 * R-62). Then the read path of `GET /api/v1/candidates/{id}/messages` — `listCandidateMessages`, with the
 * visibility predicate of src/store/visibility.ts — is timed for random candidates and viewers.
 */
import { sql } from 'kysely';
import { createRng } from '../sim/generator/index.ts';
import { listCandidateMessages } from '../src/services/messages.ts';
import type { Actor } from '../src/services/actors.ts';
import { messageVisibleTo } from '../src/store/visibility.ts';
import type { Database } from '../src/store/database.ts';
import { openBenchDatabase, percentile, postgresReachable, type BenchContext } from './world.ts';

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
    'ANALYZE',
  ];
  for (const statement of statements) await database.raw.exec(statement);
}

/** The query `listCandidateMessages` runs, explained: which nodes the plan uses for mail_messages. */
async function plan(database: Database, candidateId: string, userId: string): Promise<string> {
  const query = database.db
    .selectFrom('mail_messages')
    .selectAll('mail_messages')
    .where('mail_messages.candidate_id', '=', candidateId)
    .where(messageVisibleTo({ userId, contractId: CONTRACT }))
    .orderBy('mail_messages.sent_at')
    .orderBy('mail_messages.id')
    .compile();
  const { rows } = await database.raw.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${query.sql}`, [...query.parameters]);
  const lines = rows.map((r) => r['QUERY PLAN']);
  if (process.env.BENCH_VERBOSE) console.log(lines.join('\n'));
  const scans = lines.map((l) => /(Seq Scan|Index Scan(?: Backward)?|Index Only Scan(?: Backward)?|Bitmap Heap Scan|Bitmap Index Scan) (?:using (\S+) )?on (\S+)/.exec(l)).filter((m) => m !== null);
  return scans.map((m) => `${m[1]}${m[2] ? ` ${m[2]}` : ''} on ${m[3]}`).join('; ');
}

/** Times the Messages tab for random (candidate, viewer) pairs; latencies in ms, sorted. */
async function timeReads(database: Database, shape: Shape, samples: number): Promise<{ latencies: number[]; messages: number; threads: number }> {
  const ctx = { db: database.db, clock: { now: () => new Date() } };
  const rng = createRng('messages-tab');
  const next = (n: number) => rng.int(1, n);
  const ids = async (prefix: string, n: number) => (await sql<{ id: string }>`SELECT md5(${prefix} || ${String(n)})::uuid::text AS id`.execute(database.db)).rows[0]!.id;
  const latencies: number[] = [];
  let messages = 0;
  let threads = 0;
  for (let i = 0; i < samples + 20; i++) {
    const candidateId = await ids('cand', next(shape.candidates));
    const userId = await ids('user', next(shape.seats));
    const actor: Actor = { kind: 'user', userId, contractId: CONTRACT, role: 'recruiter', via: 'session' };
    const started = performance.now();
    const result = await listCandidateMessages(ctx, actor, candidateId);
    const ms = performance.now() - started;
    // The first reads warm the caches and the connection pool.
    if (i < 20) continue;
    latencies.push(ms);
    threads += result.length;
    messages += result.reduce((sum, t) => sum + t.messages.length, 0);
  }
  return { latencies: latencies.sort((a, b) => a - b), messages: messages / samples, threads: threads / samples };
}

export async function benchMessagesTab({ full, report }: BenchContext): Promise<void> {
  const big: Shape = full ? { messages: 1_000_000, seats: 200, candidates: 50_000 } : { messages: 100_000, seats: 50, candidates: 5_000 };
  const samples = full ? 1000 : 300;
  const postgres = await postgresReachable();
  const runs: Array<{ backend: 'postgres' | 'pglite'; shape: Shape }> = [];
  if (postgres.ok) runs.push({ backend: 'postgres', shape: big });
  else console.log(`messagesTab.postgres: skipped (${postgres.reason})`);
  // Embedded: a million rows take minutes to insert and over 4 GiB of memory in PGlite, so it is measured smaller.
  runs.push({ backend: 'pglite', shape: full ? { messages: 200_000, seats: 100, candidates: 10_000 } : { messages: 30_000, seats: 30, candidates: 1_500 } });
  for (const { backend, shape } of runs) {
    const database = await openBenchDatabase(backend);
    try {
      const started = performance.now();
      await fill(database, shape);
      const fillSeconds = (performance.now() - started) / 1000;
      const explained = await plan(database, (await sql<{ id: string }>`SELECT md5('cand1')::uuid::text AS id`.execute(database.db)).rows[0]!.id, (await sql<{ id: string }>`SELECT md5('user1')::uuid::text AS id`.execute(database.db)).rows[0]!.id);
      const { latencies, messages, threads } = await timeReads(database, shape, samples);
      const n = `${shape.messages.toLocaleString('en')} messages`;
      const note = `${n}, ${shape.seats} seats, ${shape.candidates.toLocaleString('en')} candidates; ${samples} reads by random holders of random candidates, ${messages.toFixed(1)} visible messages in ${threads.toFixed(1)} threads on average; filled in ${fillSeconds.toFixed(0)} s; plan: ${explained}`;
      report(`messagesTab.${backend}.p50`, percentile(latencies, 50), 'ms', note);
      report(`messagesTab.${backend}.p99`, percentile(latencies, 99), 'ms', n);
    } finally {
      await database.close();
    }
  }
}
