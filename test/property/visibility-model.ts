import fc from 'fast-check';
import { expect } from 'vitest';

/**
 * The visibility property (SPEC §6, R-60 … R-63) as a pure model, a generator of random sequences and one runner
 * that drives any implementation of `Driver` (the services directly, or the HTTP API) step by step.
 *
 * The model counts seat tenures: each change of holder starts a new tenure. A private message is visible only to
 * the user who held its seat when it was stored, while that same tenure lasts; a contract message is visible to
 * every user of its contract who holds a seat. Only the owner (the holder at storage time, same tenure) may change
 * a message's visibility. Admins have no other way in; an integration acting as itself holds no
 * seat and reads no mail.
 *
 * Mailboxes belong to people: a seat syncs the mailbox its holder connected, and a transfer or park ends that
 * grant. Mail arriving in the previous holder's mailbox afterwards is never stored, for anybody, until
 * the seat's holder connects their own mailbox (`connect`).
 */
export const USERS = 4; // per contract: 0 is the admin, 1 … 3 recruiters
export const CANDIDATES = 2; // per contract
const THREADS = 3; // provider threads per seat; thread t is with the contract's candidate t % CANDIDATES

export type Visibility = 'private' | 'contract';
export type ReadPath = 'candidateMessages' | 'message' | 'previews' | 'export' | 'health';
/** Users are numbered across both contracts (contract k has k*USERS … k*USERS+USERS-1); readers past them are integrations. */
export type Step =
  | { kind: 'sync'; contract: number; seat: number; thread: number }
  | { kind: 'share'; user: number | 'owner'; message: number; visibility: Visibility }
  | { kind: 'shareThread'; user: number | 'owner'; message: number; visibility: Visibility }
  | { kind: 'transfer'; contract: number; seat: number; toUser: number }
  | { kind: 'park'; contract: number; seat: number }
  | { kind: 'newSeat'; contract: number; user: number }
  | { kind: 'connect'; contract: number; seat: number }
  | { kind: 'read'; reader: number; path: ReadPath; target: number };

const visibility = fc.constantFrom<Visibility>('private', 'contract');
const user = fc.nat(2 * USERS - 1);
/** Most changes of visibility are tried by the message's owner (who may, if their tenure lasts), the others by anyone. */
const changer = fc.oneof({ weight: 3, arbitrary: fc.constant('owner' as const) }, { weight: 1, arbitrary: user });
const anyIndex = fc.nat(63);
export const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('sync' as const), contract: fc.nat(1), seat: fc.nat(3), thread: fc.nat(THREADS - 1) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('share' as const), user: changer, message: anyIndex, visibility }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('shareThread' as const), user: changer, message: anyIndex, visibility }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('transfer' as const), contract: fc.nat(1), seat: fc.nat(3), toUser: fc.nat(USERS - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('park' as const), contract: fc.nat(1), seat: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('newSeat' as const), contract: fc.nat(1), user: fc.nat(USERS - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('connect' as const), contract: fc.nat(1), seat: fc.nat(3) }) },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('read' as const),
      reader: fc.nat(2 * USERS + 1),
      path: fc.constantFrom<ReadPath>('candidateMessages', 'message', 'previews', 'export', 'health'),
      target: anyIndex,
    }),
  },
);

/** Who reads or acts, as the implementation needs it. */
export type Reader = { kind: 'user'; userId: string; contractId: string; role: 'admin' | 'recruiter' } | { kind: 'integration'; contractId: string };

/** An outcome: the value, or the error code the product answered with. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; code: string };

export interface MessageSeen {
  id: string;
  visibility: Visibility;
  isOwner: boolean;
}

export interface World {
  contracts: string[];
  /** Users in global order (see `Step`). */
  users: string[];
  /** Candidates in global order: contract k has k*CANDIDATES … */
  candidates: string[];
  /** Seat k of contract k, held by its first recruiter (user k*USERS+1), whose mailbox is connected to it. */
  seats: string[];
}

/** One implementation under test. Every read goes through the product's own read path for it. */
export interface Driver {
  /** Two fresh contracts (email access `view`) with their users, candidates and first seats. */
  setup(run: number): Promise<World>;
  /** Moves the product's clock forward; every step happens at a later instant than the one before. */
  tick(): Date;
  /**
   * A message arriving in the user's mailbox, last connected to the seat, stored the way a sync run of that mailbox
   * stores it, now; the owner is whoever holds the seat at that moment. `null`: the product stored nothing.
   */
  sync(input: { contractId: string; seatId: string; mailboxOf: string; providerThreadId: string; candidateId: string; subject: string; at: Date }): Promise<{ messageId: string; threadId: string } | null>;
  /** The seat's holder connects their own mailbox to it (what the OAuth callback leaves). */
  connect(contractId: string, seatId: string, userId: string): Promise<void>;
  createSeat(contractId: string, userId: string): Promise<Outcome<{ id: string }>>;
  changeSeatHolder(seatId: string, toUserId: string | null): Promise<Outcome<unknown>>;
  setMessageVisibility(reader: Reader, messageId: string, visibility: Visibility): Promise<Outcome<MessageSeen>>;
  setThreadVisibility(reader: Reader, threadId: string, visibility: Visibility): Promise<Outcome<{ messagesChanged: number }>>;
  candidateMessages(reader: Reader, candidateId: string): Promise<Outcome<Array<{ threadId: string; visibility: Visibility; messages: MessageSeen[] }>>>;
  message(reader: Reader, messageId: string): Promise<Outcome<MessageSeen>>;
  previews(reader: Reader, contractId: string, candidateIds: string[]): Promise<Outcome<Record<string, { count: number; latestSubject: string | null }>>>;
  exportSeat(reader: Reader, seatId: string): Promise<Outcome<string[]>>;
  syncHealth(reader: Reader, contractId: string): Promise<Outcome<Array<{ seatId: string; userId: string | null; text: string }>>>;
  /** Every (user, message) pair the store's visibility predicate lets through, for the given users. */
  visiblePairs(viewers: Array<{ userId: string; contractId: string }>): Promise<Array<{ userId: string; messageId: string }>>;
}

interface ModelSeat {
  id: string;
  contract: number;
  holder: number | null;
  tenure: number;
  /** Whose mailbox the seat's grant was last connected to, and whether that grant lives (R-62: it ends with the tenure). */
  mailbox: number | null;
  connected: boolean;
}

interface ModelMessage {
  id: string;
  threadId: string;
  contract: number;
  seat: ModelSeat;
  owner: number | null;
  tenure: number;
  visibility: Visibility;
  candidate: number;
  subject: string;
  sentAt: number;
}

const contractOfUser = (u: number) => Math.floor(u / USERS);
const contractOfCandidate = (c: number) => Math.floor(c / CANDIDATES);

/** Runs one sequence against a fresh world and checks every answer and, after every step, every user's view. */
export async function runSequence(driver: Driver, run: number, steps: readonly Step[]): Promise<void> {
  const world = await driver.setup(run);
  const seats: ModelSeat[] = [];
  const messages: ModelMessage[] = [];

  const holds = (u: number) => seats.find((s) => s.holder === u);
  const owns = (u: number, m: ModelMessage) => m.owner === u && m.seat.holder === u && m.seat.tenure === m.tenure;
  const visible = (u: number, m: ModelMessage) =>
    contractOfUser(u) === m.contract && (m.visibility === 'contract' ? seats.some((s) => s.contract === m.contract && s.holder === u) : owns(u, m));
  const readerOf = (r: number): Reader =>
    r < 2 * USERS
      ? { kind: 'user', userId: world.users[r]!, contractId: world.contracts[contractOfUser(r)]!, role: r % USERS === 0 ? 'admin' : 'recruiter' }
      : { kind: 'integration', contractId: world.contracts[r - 2 * USERS]! };
  const readerContract = (r: number) => (r < 2 * USERS ? contractOfUser(r) : r - 2 * USERS);
  /** The message's owner when it has one, else whoever holds its seat now, else the contract's admin. */
  const changerOf = (u: number | 'owner', m: ModelMessage) => (u === 'owner' ? (m.owner ?? m.seat.holder ?? m.contract * USERS) : u);
  const seen = (u: number, m: ModelMessage): MessageSeen => ({ id: m.id, visibility: m.visibility, isOwner: owns(u, m) });
  const fail = (code: string): Outcome<never> => ({ ok: false, code });
  const seatsOf = (k: number) => seats.filter((s) => s.contract === k);
  /** Compares an answer with the model's; the step is named so that a failure says where it happened. */
  const check = <T>(what: string, actual: Outcome<T>, expected: Outcome<T>) => expect(actual, what).toEqual(expected);


  for (const [k, id] of world.seats.entries()) seats.push({ id, contract: k, holder: k * USERS + 1, tenure: 1, mailbox: k * USERS + 1, connected: true });

  for (const [i, step] of steps.entries()) {
    const at = driver.tick();
    const what = `step ${i} ${JSON.stringify(step)}`;
    switch (step.kind) {
      case 'sync': {
        const own = seatsOf(step.contract);
        const seat = own[step.seat % own.length]!;
        const candidate = step.contract * CANDIDATES + (step.thread % CANDIDATES);
        // A seat no mailbox was ever connected to has nothing to sync.
        if (seat.mailbox === null) break;
        const subject = `run ${run} message ${messages.length}`;
        const stored = await driver.sync({ contractId: world.contracts[step.contract]!, seatId: seat.id, mailboxOf: world.users[seat.mailbox]!, providerThreadId: `thread-${step.thread}`, candidateId: world.candidates[candidate]!, subject, at });
        // mail reaching a mailbox whose grant ended with a transfer or park is stored for nobody.
        expect(stored !== null, `${what}: stored while ${seat.connected ? 'connected' : 'the grant has ended'}`).toBe(seat.connected);
        if (stored === null) break;
        messages.push({ id: stored.messageId, threadId: stored.threadId, contract: step.contract, seat, owner: seat.holder, tenure: seat.tenure, visibility: 'private', candidate, subject, sentAt: at.getTime() });
        break;
      }
      case 'share': {
        if (messages.length === 0) break;
        const m = messages[step.message % messages.length]!;
        const u = changerOf(step.user, m);
        const result = await driver.setMessageVisibility(readerOf(u), m.id, step.visibility);
        if (owns(u, m)) {
          m.visibility = step.visibility;
          check(what, result, { ok: true, value: seen(u, m) });
        } else {
          check(what, result, fail(visible(u, m) ? 'forbidden' : 'not_found'));
        }
        break;
      }
      case 'shareThread': {
        if (messages.length === 0) break;
        const picked = messages[step.message % messages.length]!;
        const u = changerOf(step.user, picked);
        const inThread = messages.filter((m) => m.threadId === picked.threadId);
        const result = await driver.setThreadVisibility(readerOf(u), picked.threadId, step.visibility);
        const owned = inThread.filter((m) => owns(u, m));
        if (!inThread.some((m) => visible(u, m))) check(what, result, fail('not_found'));
        else if (owned.length === 0) check(what, result, fail('forbidden'));
        else {
          const changed = owned.filter((m) => m.visibility !== step.visibility);
          for (const m of changed) m.visibility = step.visibility;
          check(what, result, { ok: true, value: { messagesChanged: changed.length } });
        }
        break;
      }
      case 'transfer':
      case 'park': {
        const own = seatsOf(step.contract);
        const seat = own[step.seat % own.length]!;
        const to = step.kind === 'transfer' ? step.contract * USERS + step.toUser : null;
        const result = await driver.changeSeatHolder(seat.id, to === null ? null : world.users[to]!);
        if (to === null && seat.holder === null) {
          expect(result.ok, what).toBe(true); // parking a parked seat changes nothing
        } else if (to !== null && (to === seat.holder || holds(to))) {
          check(what, result, fail('conflict'));
        } else {
          expect(result.ok, `${what}: ${JSON.stringify(result)}`).toBe(true);
          seat.holder = to;
          seat.tenure++;
        }
        // Any transfer or park that did not fail ends the seat's grant, the previous holder's mailbox with it.
        if (result.ok) seat.connected = false;
        break;
      }
      case 'connect': {
        const own = seatsOf(step.contract);
        const seat = own[step.seat % own.length]!;
        if (seat.holder === null) break; // a parked seat has nobody to connect a mailbox
        await driver.connect(world.contracts[step.contract]!, seat.id, world.users[seat.holder]!);
        seat.mailbox = seat.holder;
        seat.connected = true;
        break;
      }
      case 'newSeat': {
        const u = step.contract * USERS + step.user;
        const result = await driver.createSeat(world.contracts[step.contract]!, world.users[u]!);
        if (holds(u)) {
          check(what, result, fail('conflict'));
        } else {
          expect(result.ok, `${what}: ${JSON.stringify(result)}`).toBe(true);
          if (result.ok) seats.push({ id: result.value.id, contract: step.contract, holder: u, tenure: 1, mailbox: null, connected: false });
        }
        break;
      }
      case 'read':
        // A read checks its own answer; it changes nothing, and the next check below would notice if it did.
        await read(step, what);
        continue;
    }
    // A step acts on one contract (a refused step on none): its users' views are what it can have changed.
    await everyView(`after ${what}`, actedOn(step));
  }
  await everyView('at the end', [0, 1]);

  function actedOn(step: Exclude<Step, { kind: 'read' }>): number[] {
    if (step.kind === 'share' || step.kind === 'shareThread') return messages.length === 0 ? [] : [messages[step.message % messages.length]!.contract];
    return [step.contract];
  }

  /** Every user of the contracts, through the store's one visibility predicate that every read path applies. */
  async function everyView(when: string, contracts: number[]) {
    const users = world.users.map((_, u) => u).filter((u) => contracts.includes(contractOfUser(u)));
    if (users.length === 0) return;
    const pairs = await driver.visiblePairs(users.map((u) => ({ userId: world.users[u]!, contractId: world.contracts[contractOfUser(u)]! })));
    const actual = pairs.map((p) => `${world.users.indexOf(p.userId)}:${p.messageId}`).sort();
    const expected = users.flatMap((u) => messages.filter((m) => visible(u, m)).map((m) => `${u}:${m.id}`)).sort();
    expect(actual, `who sees what ${when}`).toEqual(expected);
  }

  async function read(step: Extract<Step, { kind: 'read' }>, what: string) {
    const r = step.reader;
    const reader = readerOf(r);
    const k = readerContract(r);
    const isUser = reader.kind === 'user';
    switch (step.path) {
      case 'candidateMessages': {
        const c = step.target % world.candidates.length;
        const result = await driver.candidateMessages(reader, world.candidates[c]!);
        if (contractOfCandidate(c) !== k) return check(what, result, fail('not_found'));
        if (!isUser) return check(what, result, fail('forbidden'));
        const shown = messages.filter((m) => m.candidate === c && visible(r, m)).sort((a, b) => a.sentAt - b.sentAt);
        const threads = [...new Set(shown.map((m) => m.threadId))].map((threadId) => {
          const own = shown.filter((m) => m.threadId === threadId);
          return {
            threadId,
            visibility: own.some((m) => m.visibility === 'private') ? ('private' as const) : ('contract' as const),
            messages: own.map((m) => seen(r, m)),
            last: own[own.length - 1]!.sentAt,
          };
        });
        threads.sort((a, b) => b.last - a.last);
        return check(what, result, { ok: true, value: threads.map(({ last: _, ...t }) => t) });
      }
      case 'message': {
        if (messages.length === 0) return;
        const m = messages[step.target % messages.length]!;
        const result = await driver.message(reader, m.id);
        if (m.contract !== k) return check(what, result, fail('not_found'));
        if (!isUser) return check(what, result, fail('forbidden'));
        return check(what, result, visible(r, m) ? { ok: true, value: seen(r, m) } : fail('not_found'));
      }
      case 'previews': {
        // The pipeline row and the search result hover ask for the same previews; other contracts' ids count nothing.
        const result = await driver.previews(reader, world.contracts[k]!, world.candidates);
        if (!isUser) return check(what, result, fail('forbidden'));
        const value: Record<string, { count: number; latestSubject: string | null }> = {};
        for (const [c, id] of world.candidates.entries()) {
          const shown = messages.filter((m) => m.candidate === c && visible(r, m)).sort((a, b) => b.sentAt - a.sentAt);
          value[id] = { count: shown.length, latestSubject: shown[0]?.subject ?? null };
        }
        return check(what, result, { ok: true, value });
      }
      case 'export': {
        const seat = seats[step.target % seats.length]!;
        const result = await driver.exportSeat(reader, seat.id);
        if (seat.contract !== k) return check(what, result, fail('not_found'));
        if (!isUser || seat.holder !== r) return check(what, result, fail('forbidden'));
        const own = messages.filter((m) => m.seat === seat && visible(r, m)).sort((a, b) => a.sentAt - b.sentAt);
        return check(what, result, { ok: true, value: own.map((m) => m.id) });
      }
      case 'health': {
        const target = step.target % 2;
        const result = await driver.syncHealth(reader, world.contracts[target]!);
        if (target !== k) return check(what, result, fail('not_found'));
        if (isUser && r % USERS !== 0) return check(what, result, fail('forbidden'));
        expect(result.ok, what).toBe(true);
        if (!result.ok) return;
        // Seats and holders only: no message of any seat shows through.
        const rows = result.value.map(({ seatId, userId }) => ({ seatId, userId }));
        expect(rows, what).toEqual(seatsOf(target).map((s) => ({ seatId: s.id, userId: s.holder === null ? null : world.users[s.holder]! })));
        for (const m of messages) expect(result.value.some((row) => row.text.includes(m.subject)), what).toBe(false);
        return;
      }
    }
  }
}

/** Sequences that matter too much to leave to chance; every run of the property starts with them. */
export const REGRESSIONS: Step[][] = [
  // A former owner who gets a new seat sees the message they shared, but no longer owns it.
  [
    { kind: 'sync', contract: 0, seat: 0, thread: 0 },
    { kind: 'share', user: 'owner', message: 0, visibility: 'contract' },
    { kind: 'transfer', contract: 0, seat: 0, toUser: 2 },
    { kind: 'newSeat', contract: 0, user: 1 },
    { kind: 'read', reader: 1, path: 'message', target: 0 },
    { kind: 'read', reader: 1, path: 'candidateMessages', target: 0 },
    { kind: 'share', user: 1, message: 0, visibility: 'private' },
    { kind: 'shareThread', user: 1, message: 0, visibility: 'private' },
  ],
  // The seat comes back to its former holder: a new tenure, the old private mail stays hidden.
  [
    { kind: 'sync', contract: 0, seat: 0, thread: 0 },
    { kind: 'transfer', contract: 0, seat: 0, toUser: 2 },
    { kind: 'transfer', contract: 0, seat: 0, toUser: 1 },
    { kind: 'read', reader: 1, path: 'message', target: 0 },
    { kind: 'read', reader: 1, path: 'export', target: 0 },
    { kind: 'read', reader: 1, path: 'previews', target: 0 },
  ],
  // A thread with messages of two tenures: its new holder shares only their own.
  [
    { kind: 'sync', contract: 1, seat: 0, thread: 1 },
    { kind: 'transfer', contract: 1, seat: 0, toUser: 3 },
    { kind: 'sync', contract: 1, seat: 0, thread: 1 },
    { kind: 'shareThread', user: 'owner', message: 1, visibility: 'contract' },
    { kind: 'read', reader: 7, path: 'candidateMessages', target: 3 },
    { kind: 'read', reader: 4, path: 'candidateMessages', target: 3 },
  ],
  // A parked seat syncs nothing: mail reaching the previous holder's mailbox is stored for nobody.
  [
    { kind: 'park', contract: 0, seat: 0 },
    { kind: 'sync', contract: 0, seat: 0, thread: 2 },
    { kind: 'transfer', contract: 0, seat: 0, toUser: 3 },
    { kind: 'read', reader: 3, path: 'export', target: 0 },
    { kind: 'read', reader: 0, path: 'health', target: 0 },
  ],
  // Mail arriving after a transfer is not synced to the seat, nor seen by the new holder, until they connect
  // their own mailbox; then only their mail comes in.
  [
    { kind: 'sync', contract: 0, seat: 0, thread: 0 },
    { kind: 'share', user: 'owner', message: 0, visibility: 'contract' },
    { kind: 'transfer', contract: 0, seat: 0, toUser: 2 },
    { kind: 'sync', contract: 0, seat: 0, thread: 0 },
    { kind: 'read', reader: 2, path: 'candidateMessages', target: 0 },
    { kind: 'read', reader: 2, path: 'export', target: 0 },
    { kind: 'connect', contract: 0, seat: 0 },
    { kind: 'sync', contract: 0, seat: 0, thread: 0 },
    { kind: 'read', reader: 2, path: 'candidateMessages', target: 0 },
    { kind: 'transfer', contract: 0, seat: 0, toUser: 1 },
    { kind: 'sync', contract: 0, seat: 0, thread: 1 },
    { kind: 'read', reader: 1, path: 'previews', target: 0 },
  ],
];
