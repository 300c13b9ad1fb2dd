import { isValidDomain, normalizeDomain } from '../domain/addresses.ts';
import { validationFailed } from '../errors.ts';
import { newId } from '../ids.ts';
import type { ContractsTable } from '../store/schema.ts';
import type { Selectable } from 'kysely';
import { assertContractAdmin, assertContractVisible, assertSystem, requireFound, type Actor } from './actors.ts';
import { createApiToken } from './credentials.ts';
import { recordAudit } from './audit.ts';
import type { ServiceContext, Tx } from './context.ts';
import type { MailboxDeps } from './mailbox-authorization.ts';
import { assertDeletionDone, beginSuspension, latestReceipt, runContractDeletion, type DeletionReceipt, type SuspensionJobs } from './suspension.ts';

export interface ContractView {
  id: string;
  name: string;
  status: 'active' | 'suspended';
  companyDomains: string[];
  createdAt: Date;
}

export const contractView = (row: Selectable<ContractsTable>): ContractView => ({
  id: row.id,
  name: row.name,
  status: row.status,
  companyDomains: row.company_domains,
  createdAt: row.created_at,
});

function cleanDomains(domains: string[]): string[] {
  const cleaned = [...new Set(domains.map(normalizeDomain))];
  const bad = cleaned.filter((d) => !isValidDomain(d));
  if (bad.length > 0) throw validationFailed(`companyDomains: not a valid domain: ${bad.join(', ')}`, { field: 'companyDomains' });
  return cleaned;
}

export async function createContract(
  ctx: ServiceContext,
  actor: Actor,
  input: { name: string; companyDomains: string[] },
): Promise<ContractView> {
  assertSystem(actor);
  const now = ctx.clock.now();
  const id = newId();
  const domains = cleanDomains(input.companyDomains);
  return ctx.db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('contracts')
      .values({
        id,
        name: input.name.trim(),
        status: 'active',
        company_domains: domains,
        email_provider: null,
        email_access: 'off',
        calendar_enabled: false,
        created_at: now,
        updated_at: now,
        suspended_at: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await recordAudit(trx, { contractId: id, actor, action: 'contract.created', at: now, details: { companyDomains: domains } });
    return contractView(row);
  });
}

export async function loadContract(db: Tx | ServiceContext['db'], contractId: string, forUpdate = false) {
  let query = db.selectFrom('contracts').selectAll().where('id', '=', contractId);
  if (forUpdate) query = query.forUpdate();
  return requireFound(await query.executeTakeFirst(), 'contract');
}

/**
 * a contract integration token can act as any user of the contract (`X-Act-As-User`), so only the host
 * system (a system token) creates one — never a user's session, nor a contract token. Audited with who asked
 * and why.
 */
export async function createContractToken(
  ctx: ServiceContext,
  actor: Actor,
  contractId: string,
  input: { purpose?: string | undefined },
): Promise<{ id: string; token: string }> {
  assertContractVisible(actor, contractId);
  assertSystem(actor, 'Only the host recruiting system can create integration tokens.');
  await loadContract(ctx.db, contractId);
  const purpose = input.purpose ?? null;
  const createdBy = actor.kind === 'integration' ? actor.tokenId : null;
  return ctx.db.transaction().execute(async (trx) => {
    const created = await createApiToken({ db: trx, clock: ctx.clock }, { kind: 'contract', contractId }, { createdBy, purpose });
    await recordAudit(trx, { contractId, actor, action: 'integration.token_created', targetType: 'api_token', targetId: created.id, at: ctx.clock.now(), details: { purpose } });
    return created;
  });
}

export async function getContract(ctx: ServiceContext, actor: Actor, contractId: string): Promise<ContractView> {
  assertContractVisible(actor, contractId);
  return contractView(await loadContract(ctx.db, contractId));
}

export async function listContracts(ctx: ServiceContext, actor: Actor): Promise<ContractView[]> {
  let query = ctx.db.selectFrom('contracts').selectAll().orderBy('created_at');
  if (!(actor.kind === 'integration' && actor.contractId === null)) query = query.where('id', '=', actor.contractId ?? '');
  return (await query.execute()).map(contractView);
}

export async function updateContract(
  ctx: MailboxDeps,
  actor: Actor,
  contractId: string,
  input: { name?: string | undefined; companyDomains?: string[] | undefined; status?: 'active' | 'suspended' | undefined },
  jobs?: SuspensionJobs,
): Promise<ContractView & { deletionReceipt?: DeletionReceipt }> {
  assertContractAdmin(actor, contractId);
  // the contract's commercial status belongs to the host recruiting system. Suspending erases every
  // synced email, so neither the company's admins nor a contract token (which acts for the company)
  // may do it, nor reactivate.
  if (input.status !== undefined) assertSystem(actor, 'Only the host recruiting system can suspend or reactivate a company.');
  const now = ctx.clock.now();
  const updated = await ctx.db.transaction().execute(async (trx) => {
    // FOR UPDATE: waits for every ingest batch in flight (they hold the row FOR SHARE), and later ones see the status.
    const before = await loadContract(trx, contractId, true);
    const changes: Partial<Selectable<ContractsTable>> = {};
    if (input.name !== undefined) changes.name = input.name.trim();
    if (input.companyDomains !== undefined) changes.company_domains = cleanDomains(input.companyDomains);
    let receipt: DeletionReceipt | undefined;
    if (input.status === 'suspended' && before.status === 'active') {
      changes.status = 'suspended';
      changes.suspended_at = now;
      // the deletion runs in the `contract.suspend` job; the answer carries its receipt at once.
      receipt = await beginSuspension(trx, jobs, contractId, actor, now);
    } else if (input.status === 'suspended') {
      receipt = await latestReceipt(trx, contractId);
    } else if (input.status === 'active' && before.status === 'suspended') {
      await assertDeletionDone(trx, contractId);
      changes.status = 'active';
      changes.suspended_at = null;
      await recordAudit(trx, { contractId, actor, action: 'contract.reactivated', at: now });
    }
    const row = await trx
      .updateTable('contracts')
      .set({ ...changes, updated_at: now })
      .where('id', '=', contractId)
      .returningAll()
      .executeTakeFirstOrThrow();
    if (input.name !== undefined || input.companyDomains !== undefined) {
      await recordAudit(trx, {
        contractId,
        actor,
        action: 'contract.updated',
        at: now,
        details: { name: row.name, companyDomains: row.company_domains },
      });
    }
    return { ...contractView(row), ...(receipt ? { deletionReceipt: receipt } : {}) };
  });
  // Without a job queue (an API built without one: embedded tools, tests) the deletion runs before the answer.
  if (!jobs && updated.deletionReceipt && updated.deletionReceipt.status !== 'done') {
    updated.deletionReceipt = (await runContractDeletion(ctx, contractId)) ?? updated.deletionReceipt;
  }
  return updated;
}
