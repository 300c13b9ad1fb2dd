import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getMessage, listCandidateMessages, messagePreviews } from '../../src/services/messages.ts';
import { changeSeatHolder, createSeat } from '../../src/services/seats.ts';
import { setMessageVisibility } from '../../src/services/messages.ts';
import type { Actor } from '../../src/services/actors.ts';
import type { Database } from '../../src/store/database.ts';
import { startTestApi, type TestApi } from '../helpers/app.ts';
import { backends } from '../helpers/databases.ts';
import { createCompany, insertMessage } from '../helpers/fixtures.ts';

/**
 * Random sequences of syncs, sharing, transfers, parks and new seats across two contracts. After every
 * step, every user of both contracts reads every candidate's messages, every message by id and the
 * previews, and must see exactly what an independent model of R-60 … R-63 allows.
 *
 * The model counts seat tenures: each change of holder starts a new tenure. A private message is visible
 * only to the user who held its seat when it was stored, while that same tenure lasts; a contract message
 * is visible to every user who holds a seat of its contract.
 */
type Step =
  | { kind: 'sync'; contract: number; seat: number; candidate: number }
  | { kind: 'share'; message: number; visibility: 'private' | 'contract'; byUser: number }
  | { kind: 'transfer'; contract: number; seat: number; toUser: number }
  | { kind: 'park'; contract: number; seat: number }
  | { kind: 'newSeat'; contract: number; user: number };

const USERS = 4; // per contract: admin, recruiter, two more
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('sync' as const), contract: fc.nat(1), seat: fc.nat(3), candidate: fc.nat(1) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('share' as const), message: fc.nat(40), visibility: fc.constantFrom('private' as const, 'contract' as const), byUser: fc.nat(2 * USERS - 1) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('transfer' as const), contract: fc.nat(1), seat: fc.nat(3), toUser: fc.nat(USERS - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('park' as const), contract: fc.nat(1), seat: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('newSeat' as const), contract: fc.nat(1), user: fc.nat(USERS - 1) }) },
);

describe.each(backends)('visibility property (R-60 … R-63) on $name', (backend) => {
  let database: Database;
  let api: TestApi;
  beforeAll(async () => {
    database = await backend.open();
    api = await startTestApi(database);
  });
  afterAll(async () => {
    await api.close();
    await database.close();
  });

  it('no caller ever sees a message the rules hide, after any sequence of steps', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 5, maxLength: 25 }), async (steps) => {
        run++;
        const contracts: Array<{ c: Awaited<ReturnType<typeof createCompany>>; users: string[]; candidates: string[] }> = [];
        for (let k = 0; k < 2; k++) {
          const c = await createCompany(api, `P${run}-${k}`, `p${run}-${k}.test`);
          await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: 'google', emailAccess: 'view' });
          const extra = [];
          for (let u = 0; u < USERS - 2; u++) extra.push(await c.json('POST', `/api/v1/contracts/${c.contract.id}/users`, { email: `u${u}@p${run}-${k}.test`, name: `U${u}`, role: 'recruiter' }));
          const second = await c.json('POST', `/api/v1/contracts/${c.contract.id}/candidates`, { name: 'Second', emails: [`second${run}${k}@mail.example`] });
          contracts.push({ c, users: [c.admin.id, c.recruiter.id, ...extra.map((e: { id: string }) => e.id)] as string[], candidates: [c.candidate.id, second.id] as string[] });
        }
        // Model state.
        const seats: Array<{ id: string; contract: number; holder: string | null; tenure: number }> = contracts.map((x, k) => ({ id: x.c.seat.id, contract: k, holder: x.c.recruiter.id, tenure: 1 }));
        const messages: Array<{ id: string; contract: number; seatId: string; owner: string | null; tenure: number; visibility: 'private' | 'contract'; candidate: string }> = [];
        const system: Actor = { kind: 'integration', tokenId: 'property', contractId: null };
        const tick = () => api.clock.set(new Date(api.clock.now().getTime() + 1000));

        const visibleInModel = (userId: string, m: (typeof messages)[number]) => {
          const userContract = contracts.findIndex((x) => x.users.includes(userId));
          if (userContract !== m.contract) return false;
          if (m.visibility === 'contract') return seats.some((s) => s.contract === m.contract && s.holder === userId);
          const seat = seats.find((s) => s.id === m.seatId)!;
          return m.owner === userId && seat.holder === userId && seat.tenure === m.tenure;
        };

        for (const s of steps) {
          tick();
          if (s.kind === 'sync') {
            const own = seats.filter((x) => x.contract === s.contract);
            const seat = own[s.seat % own.length]!;
            const { messageId } = await insertMessage(api, { contractId: contracts[s.contract]!.c.contract.id, seatId: seat.id, ownerUserId: seat.holder, candidateId: contracts[s.contract]!.candidates[s.candidate]! });
            messages.push({ id: messageId, contract: s.contract, seatId: seat.id, owner: seat.holder, tenure: seat.tenure, visibility: 'private', candidate: contracts[s.contract]!.candidates[s.candidate]! });
          } else if (s.kind === 'share' && messages.length > 0) {
            const m = messages[s.message % messages.length]!;
            const user = contracts.flatMap((x) => x.users)[s.byUser]!;
            const actor = actorOf(user);
            const seat = seats.find((x) => x.id === m.seatId)!;
            const isOwner = m.owner === user && seat.holder === user && seat.tenure === m.tenure;
            const result = await setMessageVisibility(api.ctx, actor, m.id, s.visibility).then(() => 'ok', (e: { code: string }) => e.code);
            expect(result).toBe(isOwner ? 'ok' : visibleInModel(user, m) ? 'forbidden' : 'not_found');
            if (isOwner) m.visibility = s.visibility;
          } else if (s.kind === 'transfer' || s.kind === 'park') {
            const own = seats.filter((x) => x.contract === s.contract);
            const seat = own[s.seat % own.length]!;
            const to = s.kind === 'transfer' ? contracts[s.contract]!.users[s.toUser]! : null;
            const result = await changeSeatHolder(api.ctx, system, seat.id, to).then(() => 'ok', (e: { code: string }) => e.code);
            const holdsOther = to !== null && seats.some((x) => x.holder === to);
            if (to === null && seat.holder === null) {
              expect(result).toBe('ok'); // parking a parked seat changes nothing
            } else if (to === seat.holder || holdsOther) {
              expect(result).toBe('conflict');
            } else {
              expect(result).toBe('ok');
              seat.holder = to;
              seat.tenure++;
            }
          } else if (s.kind === 'newSeat') {
            const user = contracts[s.contract]!.users[s.user]!;
            const result = await createSeat(api.ctx, system, contracts[s.contract]!.c.contract.id, { userId: user }).then((x) => x, (e: { code: string }) => e.code);
            if (seats.some((x) => x.holder === user)) expect(result).toBe('conflict');
            else seats.push({ id: (result as { id: string }).id, contract: s.contract, holder: user, tenure: 1 });
          }
          // Every user, every read path.
          for (const [k, x] of contracts.entries()) {
            for (const user of x.users) {
              const actor = actorOf(user);
              for (const candidate of x.candidates) {
                const threads = await listCandidateMessages(api.ctx, actor, candidate);
                const seen = threads.flatMap((t) => t.messages.map((m) => m.id)).sort();
                const expected = messages.filter((m) => m.contract === k && m.candidate === candidate && visibleInModel(user, m)).map((m) => m.id).sort();
                expect(seen).toEqual(expected);
              }
              const previews = await messagePreviews(api.ctx, actor, x.c.contract.id, x.candidates);
              for (const candidate of x.candidates) {
                expect(previews[candidate]!.count).toBe(messages.filter((m) => m.candidate === candidate && visibleInModel(user, m)).length);
              }
              for (const m of messages) {
                const got = await getMessage(api.ctx, actor, m.id).then(() => true, () => false);
                expect(got).toBe(visibleInModel(user, m));
              }
            }
          }
        }

        function actorOf(userId: string): Actor {
          const k = contracts.findIndex((x) => x.users.includes(userId));
          const x = contracts[k]!;
          return { kind: 'user', userId, contractId: x.c.contract.id, role: userId === x.c.admin.id ? 'admin' : 'recruiter', via: 'integration' };
        }
      }),
      // A quick profile by default; PROPERTY_RUNS=2000 for a long soak.
      { numRuns: Number(process.env.PROPERTY_RUNS ?? (backend.name === 'pglite' ? 10 : 5)) },
    );
  }, 300_000);
});
