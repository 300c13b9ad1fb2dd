/**
 * What the rules need to know about a seat before deciding its messages: the candidate lookup (R-32…R-34)
 * and the owner addresses. Loaded with a fixed number of queries per contract and cached for
 * one sync run, so deciding thousands of messages costs no query per message.
 */
import { sql, type Kysely } from 'kysely';
import { normalizeAddress } from '../../domain/addresses.ts';
import { buildCandidateLookup, withRemovedAddresses, type CandidateMatch, type NetworkDegree, type RemovedAddresses } from '../../domain/ingestion/index.ts';
import type { DB, EmailDiscovery } from '../../store/schema.ts';
import { notFound } from '../../errors.ts';
import type { SeatMailbox } from './types.ts';

export type CandidateLookupMap = ReadonlyMap<string, readonly CandidateMatch[]>;

interface CandidateEmailRow {
  candidateId: string;
  normalized: string;
  emailDiscovery: EmailDiscovery;
  inPipeline: boolean;
}

/** One query: every candidate email of the contract with the candidate's setting and pipeline membership. */
async function loadContractCandidates(db: Kysely<DB>, contractId: string): Promise<CandidateEmailRow[]> {
  const rows = await db
    .selectFrom('candidate_emails as ce')
    .innerJoin('candidates as c', 'c.id', 'ce.candidate_id')
    .select([
      'ce.candidate_id',
      'ce.normalized',
      'c.email_discovery',
      // SPEC §1: in the pipeline while at least one active project of the contract holds the candidate.
      (eb) =>
        eb
          .exists(
            eb
              .selectFrom('project_candidates as pc')
              .innerJoin('projects as p', 'p.id', 'pc.project_id')
              .select(sql.lit(1).as('one'))
              .whereRef('pc.candidate_id', '=', 'c.id')
              .where('p.status', '=', 'active'),
          )
          .as('in_pipeline'),
    ])
    .where('ce.contract_id', '=', contractId)
    .execute();
  return rows.map((r) => ({ candidateId: r.candidate_id, normalized: r.normalized, emailDiscovery: r.email_discovery, inPipeline: Boolean(r.in_pipeline) }));
}

/** One query: the addresses removed from the contract's profiles, so R-33 can say why their mail stopped. */
async function loadRemovedAddresses(db: Kysely<DB>, contractId: string): Promise<RemovedAddresses> {
  const rows = await db
    .selectFrom('candidate_email_removals as r')
    .innerJoin('candidates as c', 'c.id', 'r.candidate_id')
    .select(['r.normalized', 'r.removed_at'])
    .where('c.contract_id', '=', contractId)
    .execute();
  return new Map(rows.map((r) => [r.normalized, r.removed_at]));
}

interface ContractRows {
  rows: CandidateEmailRow[];
  removed: RemovedAddresses;
}

const loadContract = async (db: Kysely<DB>, contractId: string): Promise<ContractRows> => {
  const [rows, removed] = await Promise.all([loadContractCandidates(db, contractId), loadRemovedAddresses(db, contractId)]);
  return { rows, removed };
};

/** One query: the seat holder's network degree to each candidate they are connected with. */
async function loadDegrees(db: Kysely<DB>, contractId: string, userId: string): Promise<Map<string, NetworkDegree>> {
  const rows = await db.selectFrom('candidate_connections').select(['candidate_id', 'degree']).where('contract_id', '=', contractId).where('user_id', '=', userId).execute();
  return new Map(rows.map((r) => [r.candidate_id, Number(r.degree) as NetworkDegree]));
}

function assemble({ rows, removed }: ContractRows, degrees: ReadonlyMap<string, NetworkDegree>): CandidateLookupMap {
  const byCandidate = new Map<string, CandidateMatch & { emails: string[] }>();
  for (const row of rows) {
    let entry = byCandidate.get(row.candidateId);
    if (!entry) {
      entry = { candidateId: row.candidateId, inPipeline: row.inPipeline, emailDiscovery: row.emailDiscovery, ownerDegree: degrees.get(row.candidateId) ?? null, emails: [] };
      byCandidate.set(row.candidateId, entry);
    }
    entry.emails.push(row.normalized);
  }
  return withRemovedAddresses(buildCandidateLookup(byCandidate.values()), removed);
}

/** The candidate lookup of one seat holder (a parked seat has no holder, so every degree is "none"). */
export async function loadCandidateLookup(db: Kysely<DB>, contractId: string, holderUserId: string | null): Promise<CandidateLookupMap> {
  const [rows, degrees] = await Promise.all([loadContract(db, contractId), holderUserId === null ? new Map<string, NetworkDegree>() : loadDegrees(db, contractId, holderUserId)]);
  return assemble(rows, degrees);
}

/**
 * A per-sync-run cache: the contract's candidate rows are read once however many seats of the contract sync
 * in the run, the holder's degrees once per holder. Make a new cache for each run (or call `invalidate`)
 * so pipeline and profile changes are seen by the next run.
 */
export class CandidateCache {
  private readonly contracts = new Map<string, Promise<ContractRows>>();
  private readonly lookups = new Map<string, Promise<CandidateLookupMap>>();

  constructor(private readonly db: Kysely<DB>) {}

  lookupFor(contractId: string, holderUserId: string | null): Promise<CandidateLookupMap> {
    const key = `${contractId}:${holderUserId ?? ''}`;
    let lookup = this.lookups.get(key);
    if (!lookup) {
      let rows = this.contracts.get(contractId);
      if (!rows) {
        rows = loadContract(this.db, contractId);
        this.contracts.set(contractId, rows);
      }
      const degrees = holderUserId === null ? Promise.resolve(new Map<string, NetworkDegree>()) : loadDegrees(this.db, contractId, holderUserId);
      lookup = Promise.all([rows, degrees]).then(([r, d]) => assemble(r, d));
      this.lookups.set(key, lookup);
      // A failed load must not poison the run: the next call retries.
      lookup.catch(() => {
        this.lookups.delete(key);
        this.contracts.delete(contractId);
      });
    }
    return lookup;
  }

  invalidate(contractId?: string): void {
    if (contractId === undefined) {
      this.contracts.clear();
      this.lookups.clear();
      return;
    }
    this.contracts.delete(contractId);
    for (const key of [...this.lookups.keys()]) if (key.startsWith(`${contractId}:`)) this.lookups.delete(key);
  }
}

/**
 * The seat's email mailbox: its current holder and its email authorization with the owner addresses
 * (authorized address + aliases). Throws not_found when the seat has no email authorization at all.
 */
export async function loadSeatMailbox(db: Kysely<DB>, seatId: string): Promise<SeatMailbox> {
  const row = await db
    .selectFrom('mailbox_authorizations as a')
    .innerJoin('seats as s', 's.id', 'a.seat_id')
    .select(['a.id', 'a.contract_id', 'a.provider', 'a.address', 'a.aliases', 'a.first_authorized_at', 'a.last_authorized_at', 's.user_id'])
    .where('a.seat_id', '=', seatId)
    .where('a.kind', '=', 'email')
    .executeTakeFirst();
  if (!row || row.address === null) throw notFound('email authorization');
  return {
    seatId,
    contractId: row.contract_id,
    holderUserId: row.user_id,
    authorizationId: row.id,
    provider: row.provider,
    owner: { address: row.address, aliases: row.aliases ?? [] },
    firstAuthorizedAt: row.first_authorized_at,
    lastAuthorizedAt: row.last_authorized_at,
  };
}

/** The owner addresses of a mailbox, normalized (SPEC §4 definitions). */
export function ownerAddresses(mailbox: Pick<SeatMailbox, 'owner'>): Set<string> {
  return new Set([mailbox.owner.address, ...mailbox.owner.aliases].map(normalizeAddress).filter((a) => a !== ''));
}
