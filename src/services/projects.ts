import { newId } from '../ids.ts';
import { assertContractVisible, requireFound, type Actor } from './actors.ts';
import type { ServiceContext, Tx } from './context.ts';
import { isInPipeline, loadCandidate, requestCandidateBackfill, type PipelineJobs } from './candidates.ts';

/** Projects hold the candidates a contract is recruiting; active projects make up the pipeline (SPEC §1). */
export interface ProjectView {
  id: string;
  contractId: string;
  name: string;
  status: 'active' | 'closed';
  candidateIds: string[];
}

type Db = Tx | ServiceContext['db'];

async function projectView(db: Db, row: { id: string; contract_id: string; name: string; status: 'active' | 'closed' }): Promise<ProjectView> {
  const members = await db.selectFrom('project_candidates').select('candidate_id').where('project_id', '=', row.id).orderBy('added_at').orderBy('candidate_id').execute();
  return { id: row.id, contractId: row.contract_id, name: row.name, status: row.status, candidateIds: members.map((m) => m.candidate_id) };
}

async function loadProject(db: Db, actor: Actor, projectId: string) {
  const row = requireFound(await db.selectFrom('projects').selectAll().where('id', '=', projectId).executeTakeFirst(), 'project');
  assertContractVisible(actor, row.contract_id, 'project');
  return row;
}

export async function createProject(ctx: ServiceContext, actor: Actor, contractId: string, input: { name: string }): Promise<ProjectView> {
  assertContractVisible(actor, contractId);
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    requireFound(await trx.selectFrom('contracts').select('id').where('id', '=', contractId).executeTakeFirst(), 'contract');
    const row = await trx
      .insertInto('projects')
      .values({ id: newId(), contract_id: contractId, name: input.name.trim(), status: 'active', created_at: now, updated_at: now })
      .returningAll()
      .executeTakeFirstOrThrow();
    return projectView(trx, row);
  });
}

export async function getProject(ctx: ServiceContext, actor: Actor, projectId: string): Promise<ProjectView> {
  return projectView(ctx.db, await loadProject(ctx.db, actor, projectId));
}

export async function listProjects(ctx: ServiceContext, actor: Actor, contractId: string): Promise<ProjectView[]> {
  assertContractVisible(actor, contractId);
  const rows = await ctx.db.selectFrom('projects').selectAll().where('contract_id', '=', contractId).orderBy('created_at').orderBy('id').execute();
  return Promise.all(rows.map((r) => projectView(ctx.db, r)));
}

export async function updateProject(
  ctx: ServiceContext,
  actor: Actor,
  projectId: string,
  input: { name?: string | undefined; status?: 'active' | 'closed' | undefined },
  jobs?: PipelineJobs,
): Promise<ProjectView> {
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const before = await loadProject(trx, actor, projectId);
    if (before.status === 'closed' && input.status === 'active') {
      // Reopened: its candidates held by no other active project join the pipeline again.
      const members = await trx.selectFrom('project_candidates').select('candidate_id').where('project_id', '=', projectId).execute();
      for (const m of members) {
        if (!(await isInPipeline(trx, m.candidate_id, projectId))) await requestCandidateBackfill(jobs, trx, before.contract_id, m.candidate_id);
      }
    }
    const row = await trx
      .updateTable('projects')
      .set({ ...(input.name !== undefined ? { name: input.name.trim() } : {}), ...(input.status !== undefined ? { status: input.status } : {}), updated_at: now })
      .where('id', '=', projectId)
      .returningAll()
      .executeTakeFirstOrThrow();
    return projectView(trx, row);
  });
}

export async function addCandidateToProject(ctx: ServiceContext, actor: Actor, projectId: string, candidateId: string, jobs?: PipelineJobs): Promise<ProjectView> {
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const project = await loadProject(trx, actor, projectId);
    const candidate = await loadCandidate(trx, actor, candidateId);
    // A candidate of another contract does not exist from this project's point of view.
    if (candidate.contract_id !== project.contract_id) requireFound(undefined, 'candidate');
    const wasInPipeline = await isInPipeline(trx, candidateId);
    await trx
      .insertInto('project_candidates')
      .values({ project_id: projectId, candidate_id: candidateId, contract_id: project.contract_id, added_at: now })
      .onConflict((oc) => oc.columns(['project_id', 'candidate_id']).doNothing())
      .execute();
    // Added to the pipeline later: their past conversations are fetched for every authorized seat.
    if (project.status === 'active' && !wasInPipeline) await requestCandidateBackfill(jobs, trx, project.contract_id, candidateId);
    return projectView(trx, project);
  });
}

export async function removeCandidateFromProject(ctx: ServiceContext, actor: Actor, projectId: string, candidateId: string): Promise<ProjectView> {
  return ctx.db.transaction().execute(async (trx) => {
    const project = await loadProject(trx, actor, projectId);
    const removed = await trx.deleteFrom('project_candidates').where('project_id', '=', projectId).where('candidate_id', '=', candidateId).executeTakeFirst();
    if (Number(removed.numDeletedRows) === 0) requireFound(undefined, 'candidate in this project');
    return projectView(trx, project);
  });
}
