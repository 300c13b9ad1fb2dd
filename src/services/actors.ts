import { AppError, forbidden, notFound } from '../errors.ts';
import type { Role } from '../domain/types.ts';

/**
 * Who is calling. A user (signed in, or an integration acting as that user with `X-Act-As-User`) has that
 * user's permissions; an integration acting as itself has an admin's rights over the contracts its token
 * reaches, but no seat, so it sees no private mail.
 */
export type Actor =
  | { kind: 'user'; userId: string; contractId: string; role: Role; via: 'session' | 'integration' }
  | { kind: 'integration'; tokenId: string; contractId: string | null };

export const isSystem = (actor: Actor): boolean => actor.kind === 'integration' && actor.contractId === null;

/** Contract isolation: another contract's resources do not exist for this caller (`not_found`). */
export function assertContractVisible(actor: Actor, contractId: string, what = 'contract'): void {
  if (actor.kind === 'integration' && actor.contractId === null) return;
  if (actor.contractId !== contractId) throw notFound(what);
}

/** Admin-level operations: the contract's admins and integrations of the contract. */
export function assertContractAdmin(actor: Actor, contractId: string, what = 'contract'): void {
  assertContractVisible(actor, contractId, what);
  if (actor.kind === 'user' && actor.role !== 'admin') {
    throw forbidden('Only an admin of this company can do this.');
  }
}

export function assertSystem(actor: Actor): void {
  if (!isSystem(actor)) throw forbidden('Only a system integration token can do this.');
}

export function assertIntegration(actor: Actor, contractId: string): void {
  assertContractVisible(actor, contractId);
  if (actor.kind !== 'integration') throw forbidden('Only an integration of the host recruiting system can do this.');
}

export interface AuditActor {
  actor_kind: 'user' | 'integration' | 'system';
  actor_user_id: string | null;
}

export function auditActorOf(actor: Actor | 'system'): AuditActor {
  if (actor === 'system') return { actor_kind: 'system', actor_user_id: null };
  if (actor.kind === 'user') return { actor_kind: 'user', actor_user_id: actor.userId };
  return { actor_kind: 'integration', actor_user_id: null };
}

export function requireFound<T>(row: T | undefined, what: string): T {
  if (row === undefined) throw notFound(what);
  return row;
}

export const conflict = (message: string): AppError => new AppError('conflict', message);
