import { isValidAddress, normalizeAddress } from '../domain/addresses.ts';
import type { EmailDiscovery } from '../domain/types.ts';
import { validationFailed } from '../errors.ts';
import { newId } from '../ids.ts';
import type { Jobs } from '../jobs/index.ts';
import { assertContractVisible, assertIntegration, assertSystem, conflict, requireFound, type Actor } from './actors.ts';
import { recordAudit } from './audit.ts';
import type { ServiceContext, Tx } from './context.ts';

export interface CandidateView {
  id: string;
  contractId: string;
  name: string;
  emails: string[];
  emailDiscovery: EmailDiscovery;
  /** In the pipeline: held by at least one active project of the contract. */
  inPipeline: boolean;
  projectIds: string[];
}

type Db = Tx | ServiceContext['db'];

/** The job queue, for the changes that make a candidate's past mail qualify (R-39); absent where nothing syncs. */
export type PipelineJobs = Pick<Jobs, 'send'> | undefined;

/** In the pipeline: at least one active project holds the candidate (SPEC §1). */
export async function isInPipeline(db: Db, candidateId: string, exceptProjectId?: string): Promise<boolean> {
  let query = db
    .selectFrom('project_candidates')
    .innerJoin('projects', 'projects.id', 'project_candidates.project_id')
    .select('projects.id')
    .where('project_candidates.candidate_id', '=', candidateId)
    .where('projects.status', '=', 'active');
  if (exceptProjectId !== undefined) query = query.where('projects.id', '!=', exceptProjectId);
  return (await query.limit(1).executeTakeFirst()) !== undefined;
}

/**
 * R-39: fetch the candidate's past conversations for every authorized seat of the contract. Enqueued in the
 * transaction of the change, so the job exists only if the change commits (and sees it when it runs).
 */
export async function requestCandidateBackfill(jobs: PipelineJobs, trx: Tx, contractId: string, candidateId: string): Promise<void> {
  if (!jobs) return;
  await jobs.send('candidate.backfill', { contractId, candidateId }, { singletonKey: `candidate.backfill:${candidateId}`, transaction: trx });
}

async function candidateViews(db: Db, rows: Array<{ id: string; contract_id: string; name: string; email_discovery: EmailDiscovery }>): Promise<CandidateView[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const emails = await db.selectFrom('candidate_emails').select(['candidate_id', 'address']).where('candidate_id', 'in', ids).orderBy('position').execute();
  const memberships = await db
    .selectFrom('project_candidates')
    .innerJoin('projects', 'projects.id', 'project_candidates.project_id')
    .select(['project_candidates.candidate_id', 'projects.id as project_id', 'projects.status'])
    .where('project_candidates.candidate_id', 'in', ids)
    .execute();
  return rows.map((r) => {
    const own = memberships.filter((m) => m.candidate_id === r.id);
    return {
      id: r.id,
      contractId: r.contract_id,
      name: r.name,
      emails: emails.filter((e) => e.candidate_id === r.id).map((e) => e.address),
      emailDiscovery: r.email_discovery,
      inPipeline: own.some((m) => m.status === 'active'),
      projectIds: own.map((m) => m.project_id),
    };
  });
}

function cleanEmails(emails: string[]): Array<{ address: string; normalized: string }> {
  const seen = new Set<string>();
  const result: Array<{ address: string; normalized: string }> = [];
  for (const raw of emails) {
    const address = raw.trim();
    if (!isValidAddress(address)) throw validationFailed(`emails: not a valid email address: ${address}`, { field: 'emails' });
    const normalized = normalizeAddress(address);
    if (seen.has(normalized)) continue;
    seen.add(normalized);
    result.push({ address, normalized });
  }
  return result;
}

/** Replaces a candidate's emails. An address already on another profile of the contract is a conflict. */
async function writeEmails(trx: Tx, contractId: string, candidateId: string, emails: Array<{ address: string; normalized: string }>, now: Date) {
  if (emails.length > 0) {
    const owner = await trx
      .selectFrom('candidate_emails')
      .select(['candidate_id', 'address'])
      .where('contract_id', '=', contractId)
      .where('normalized', 'in', emails.map((e) => e.normalized))
      .where('candidate_id', '!=', candidateId)
      .executeTakeFirst();
    if (owner) throw conflict(`The address ${owner.address} already belongs to another candidate of this company.`);
  }
  const existing = await trx.selectFrom('candidate_emails').select(['normalized', 'added_at', 'added_by_user_id']).where('candidate_id', '=', candidateId).execute();
  await trx.deleteFrom('candidate_emails').where('candidate_id', '=', candidateId).execute();
  if (emails.length === 0) return;
  await trx
    .insertInto('candidate_emails')
    .values(
      emails.map((e, position) => ({
        candidate_id: candidateId,
        contract_id: contractId,
        address: e.address,
        normalized: e.normalized,
        position,
        // Keep when an address was first added: a new address triggers a targeted backfill (R-39).
        added_at: existing.find((x) => x.normalized === e.normalized)?.added_at ?? now,
        // Who typed it in the product stays on it (they may remove it again).
        added_by_user_id: existing.find((x) => x.normalized === e.normalized)?.added_by_user_id ?? null,
      })),
    )
    .execute();
}

/** A candidate created without a setting from the host system (API.md's default). */
export const DEFAULT_EMAIL_DISCOVERY: EmailDiscovery = 'anyone';

/**
 * R-34: the discovery setting is the candidate's own choice, which only the host recruiting system knows, so
 * only a system token sets it; users (signed in or acted as) and contract tokens cannot widen or change it.
 */
const DISCOVERY_IS_THE_HOST_SYSTEMS =
  "A candidate's email discovery setting is the candidate's own choice: it comes from the recruiting system and cannot be changed here.";

export async function createCandidate(
  ctx: ServiceContext,
  actor: Actor,
  contractId: string,
  input: { name: string; emails: string[]; emailDiscovery?: EmailDiscovery | undefined },
): Promise<CandidateView> {
  assertContractVisible(actor, contractId);
  const discovery = input.emailDiscovery ?? DEFAULT_EMAIL_DISCOVERY;
  if (discovery !== DEFAULT_EMAIL_DISCOVERY) assertSystem(actor, DISCOVERY_IS_THE_HOST_SYSTEMS);
  const emails = cleanEmails(input.emails);
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    requireFound(await trx.selectFrom('contracts').select('id').where('id', '=', contractId).executeTakeFirst(), 'contract');
    const id = newId();
    const row = await trx
      .insertInto('candidates')
      .values({ id, contract_id: contractId, name: input.name.trim(), email_discovery: discovery, created_at: now, updated_at: now })
      .returningAll()
      .executeTakeFirstOrThrow();
    await writeEmails(trx, contractId, id, emails, now);
    return (await candidateViews(trx, [row]))[0]!;
  });
}

export async function loadCandidate(db: Db, actor: Actor, candidateId: string) {
  const row = requireFound(await db.selectFrom('candidates').selectAll().where('id', '=', candidateId).executeTakeFirst(), 'candidate');
  assertContractVisible(actor, row.contract_id, 'candidate');
  return row;
}

export async function getCandidate(ctx: ServiceContext, actor: Actor, candidateId: string): Promise<CandidateView> {
  const row = await loadCandidate(ctx.db, actor, candidateId);
  return (await candidateViews(ctx.db, [row]))[0]!;
}

export async function updateCandidate(
  ctx: ServiceContext,
  actor: Actor,
  candidateId: string,
  input: { name?: string | undefined; emails?: string[] | undefined; emailDiscovery?: EmailDiscovery | undefined },
  jobs?: PipelineJobs,
): Promise<CandidateView> {
  const emails = input.emails === undefined ? undefined : cleanEmails(input.emails);
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const before = await loadCandidate(trx, actor, candidateId);
    // Sending the current value again is no change; any other value is the host system's to set (R-34).
    const discoveryChanged = input.emailDiscovery !== undefined && input.emailDiscovery !== before.email_discovery;
    if (discoveryChanged) assertSystem(actor, DISCOVERY_IS_THE_HOST_SYSTEMS);
    const row = await trx
      .updateTable('candidates')
      .set({
        ...(input.name !== undefined ? { name: input.name.trim() } : {}),
        ...(input.emailDiscovery !== undefined ? { email_discovery: input.emailDiscovery } : {}),
        updated_at: now,
      })
      .where('id', '=', candidateId)
      .returningAll()
      .executeTakeFirstOrThrow();
    let newAddress = false;
    if (emails !== undefined) {
      const known = new Set((await trx.selectFrom('candidate_emails').select('normalized').where('candidate_id', '=', candidateId).execute()).map((e) => e.normalized));
      newAddress = emails.some((e) => !known.has(e.normalized));
      await writeEmails(trx, before.contract_id, candidateId, emails, now);
    }
    if (discoveryChanged) {
      await recordAudit(trx, {
        contractId: before.contract_id,
        actor,
        action: 'candidate.discovery_changed',
        targetType: 'candidate',
        targetId: candidateId,
        at: now,
        details: { from: before.email_discovery, to: row.email_discovery },
      });
    }
    // A new address, or a discovery setting that may now admit seat holders: their past mail may qualify (R-39).
    if ((newAddress || discoveryChanged) && (await isInPipeline(trx, candidateId))) await requestCandidateBackfill(jobs, trx, before.contract_id, candidateId);
    return (await candidateViews(trx, [row]))[0]!;
  });
}

export async function listCandidates(
  ctx: ServiceContext,
  actor: Actor,
  contractId: string,
  filter: { q?: string | undefined; projectId?: string | undefined; limit: number; offset: number },
): Promise<CandidateView[]> {
  assertContractVisible(actor, contractId);
  let query = ctx.db.selectFrom('candidates').selectAll('candidates').where('candidates.contract_id', '=', contractId);
  if (filter.q) {
    const pattern = `%${filter.q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    query = query.where((eb) =>
      eb.or([
        eb(eb.fn('lower', ['candidates.name']), 'like', pattern),
        eb.exists(
          eb
            .selectFrom('candidate_emails')
            .select('candidate_emails.candidate_id')
            .whereRef('candidate_emails.candidate_id', '=', 'candidates.id')
            .where('candidate_emails.normalized', 'like', pattern),
        ),
      ]),
    );
  }
  if (filter.projectId) {
    const projectId = filter.projectId;
    query = query.where((eb) =>
      eb.exists(
        eb
          .selectFrom('project_candidates')
          .select('project_candidates.candidate_id')
          .whereRef('project_candidates.candidate_id', '=', 'candidates.id')
          .where('project_candidates.project_id', '=', projectId),
      ),
    );
  }
  const rows = await query.orderBy('candidates.name').orderBy('candidates.id').limit(filter.limit).offset(filter.offset).execute();
  return candidateViews(ctx.db, rows);
}

/** The network degree between a user and a candidate (R-34 input); it comes from the host system. */
export async function setConnection(
  ctx: ServiceContext,
  actor: Actor,
  candidateId: string,
  input: { userId: string; degree: 1 | 2 | 3 },
  jobs?: PipelineJobs,
): Promise<{ candidateId: string; userId: string; degree: 1 | 2 | 3 }> {
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const candidate = await loadCandidate(trx, actor, candidateId);
    // Degrees are the host system's network data and widen what the discovery setting admits (R-34): a person,
    // admin or not, cannot declare themselves connected to a candidate.
    assertIntegration(actor, candidate.contract_id);
    const user = await trx.selectFrom('users').select(['id', 'contract_id']).where('id', '=', input.userId).executeTakeFirst();
    if (!user || user.contract_id !== candidate.contract_id) requireFound(undefined, 'user');
    const previous = await trx.selectFrom('candidate_connections').select('degree').where('candidate_id', '=', candidateId).where('user_id', '=', input.userId).executeTakeFirst();
    // A new degree may let the candidate's discovery setting admit this user's seat (R-34, R-39).
    if (Number(previous?.degree ?? 0) !== input.degree && (await isInPipeline(trx, candidateId))) await requestCandidateBackfill(jobs, trx, candidate.contract_id, candidateId);
    await trx
      .insertInto('candidate_connections')
      .values({ candidate_id: candidateId, user_id: input.userId, contract_id: candidate.contract_id, degree: input.degree, updated_at: now })
      .onConflict((oc) => oc.columns(['candidate_id', 'user_id']).doUpdateSet({ degree: input.degree, updated_at: now }))
      .execute();
    return { candidateId, userId: input.userId, degree: input.degree };
  });
}

export async function listConnections(ctx: ServiceContext, actor: Actor, candidateId: string) {
  const candidate = await loadCandidate(ctx.db, actor, candidateId);
  const rows = await ctx.db
    .selectFrom('candidate_connections')
    .select(['user_id', 'degree'])
    .where('candidate_id', '=', candidate.id)
    .orderBy('user_id')
    .execute();
  return rows.map((r) => ({ candidateId, userId: r.user_id, degree: r.degree }));
}
