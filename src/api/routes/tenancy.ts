import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import * as candidates from '../../services/candidates.ts';
import * as contracts from '../../services/contracts.ts';
import type { MailboxDeps } from '../../services/mailbox-authorization.ts';
import * as projects from '../../services/projects.ts';
import * as seats from '../../services/seats.ts';
import * as suspension from '../../services/suspension.ts';
import * as users from '../../services/users.ts';
import { PASSWORD_MIN_LENGTH } from '../../services/password-policy.ts';
import { isPrintableLine } from '../auth.ts';
import { defineRoute } from '../route.ts';
import { Candidate, Contract, DeletionReceipt, Email, EmailDiscovery, Id, IdParams, Name, Paging, Project, Seat, User } from '../schemas.ts';

/** Why a contract token is created: one line of printable text, shown in the audit log. */
const Purpose = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .refine(isPrintableLine, 'must be printable text on one line');

/** API.md "Tenancy and people": contracts, tokens, users, seats, candidates, connections, projects. */
export function tenancyRoutes(app: FastifyInstance, ctx: MailboxDeps, jobs?: candidates.PipelineJobs): void {
  const tags = ['Tenancy and people'];

  defineRoute(
    app,
    {
      method: 'POST', url: '/api/v1/contracts', summary: 'Create a contract (system token only)', tags, auth: 'caller',
      body: z.strictObject({ name: Name, companyDomains: z.array(z.string()).min(1).max(50) }),
      response: Contract,
    },
    ({ actor, body }) => contracts.createContract(ctx, actor, body),
  );
  defineRoute(
    app,
    { method: 'GET', url: '/api/v1/contracts', summary: 'Contracts the caller can see', tags, auth: 'caller', response: z.array(Contract) },
    ({ actor }) => contracts.listContracts(ctx, actor),
  );
  defineRoute(
    app,
    { method: 'GET', url: '/api/v1/contracts/{id}', summary: 'A contract', tags, auth: 'caller', params: IdParams, response: Contract },
    ({ actor, params }) => contracts.getContract(ctx, actor, params.id),
  );
  defineRoute(
    app,
    {
      method: 'PATCH', url: '/api/v1/contracts/{id}',
      summary:
        'Rename or set company domains (admins), or suspend / reactivate (system token only). Suspending queues the deletion of the company\'s third-party data and answers at once with its deletion receipt (status queued, running or done); reactivating is refused (conflict) until that deletion is done',
      tags, auth: 'caller', params: IdParams,
      body: z.strictObject({ name: Name.optional(), companyDomains: z.array(z.string()).min(1).max(50).optional(), status: z.enum(['active', 'suspended']).optional() }),
      response: Contract.extend({ deletionReceipt: DeletionReceipt.optional() }),
      errors: ['conflict'],
    },
    ({ actor, params, body }) => contracts.updateContract(ctx, actor, params.id, body, jobs),
  );
  defineRoute(
    app,
    {
      method: 'GET', url: '/api/v1/contracts/{id}/deletion-receipts/{receiptId}',
      summary: "A suspension's deletion receipt: its status, and the counts of what was deleted (system token or the company's admins)",
      tags, auth: 'caller', params: z.object({ id: Id, receiptId: Id }), response: DeletionReceipt,
    },
    ({ actor, params }) => suspension.getDeletionReceipt(ctx, actor, params.id, params.receiptId),
  );
  defineRoute(
    app,
    {
      method: 'POST', url: '/api/v1/contracts/{id}/tokens',
      summary: 'Create a contract integration token (shown once; system token only — a contract token can act as any user of the contract). The optional purpose is kept in the audit log',
      tags, auth: 'caller', params: IdParams,
      body: z.strictObject({ purpose: Purpose.optional() }).optional(),
      response: z.object({ id: Id, token: z.string() }),
    },
    ({ actor, params, body }) => contracts.createContractToken(ctx, actor, params.id, { purpose: body?.purpose }),
  );

  // Users
  defineRoute(
    app,
    {
      method: 'POST', url: '/api/v1/contracts/{id}/users', summary: 'Create a user', tags, auth: 'caller', params: IdParams,
      body: z.strictObject({ email: Email, name: Name, role: z.enum(['admin', 'recruiter']), password: z.string().min(PASSWORD_MIN_LENGTH, `The password must have at least ${PASSWORD_MIN_LENGTH} characters.`).max(200).optional() }),
      response: User,
    },
    ({ actor, params, body }) => users.createUser(ctx, actor, params.id, body),
  );
  defineRoute(
    app,
    { method: 'GET', url: '/api/v1/contracts/{id}/users', summary: 'Users of a contract', tags, auth: 'caller', params: IdParams, response: z.array(User) },
    ({ actor, params }) => users.listUsers(ctx, actor, params.id),
  );
  defineRoute(
    app,
    { method: 'GET', url: '/api/v1/users/{id}', summary: 'A user', tags, auth: 'caller', params: IdParams, response: User },
    ({ actor, params }) => users.getUser(ctx, actor, params.id),
  );

  // Seats
  defineRoute(
    app,
    {
      method: 'POST', url: '/api/v1/contracts/{id}/seats', summary: 'Create a seat (userId null creates it parked)', tags, auth: 'caller',
      params: IdParams, body: z.strictObject({ userId: Id.nullable() }), response: Seat,
    },
    ({ actor, params, body }) => seats.createSeat(ctx, actor, params.id, body),
  );
  defineRoute(
    app,
    { method: 'GET', url: '/api/v1/contracts/{id}/seats', summary: 'Seats of a contract with holder history', tags, auth: 'caller', params: IdParams, response: z.array(Seat) },
    ({ actor, params }) => seats.listSeats(ctx, actor, params.id),
  );
  defineRoute(
    app,
    { method: 'GET', url: '/api/v1/seats/{id}', summary: 'A seat', tags, auth: 'caller', params: IdParams, response: Seat },
    ({ actor, params }) => seats.getSeat(ctx, actor, params.id),
  );
  defineRoute(
    app,
    {
      method: 'POST', url: '/api/v1/seats/{id}/transfer', summary: 'Transfer a seat to another user: its synced data stays, its mailbox and calendar connections end (R-62)', tags, auth: 'caller',
      params: IdParams, body: z.strictObject({ toUserId: Id }), response: Seat, successStatus: 200,
    },
    ({ actor, params, body }) => seats.changeSeatHolder(ctx, actor, params.id, body.toUserId, jobs),
  );
  defineRoute(
    app,
    { method: 'POST', url: '/api/v1/seats/{id}/park', summary: 'Park a seat: held by nobody, data kept, its mailbox and calendar connections end (R-62)', tags, auth: 'caller', params: IdParams, response: Seat, successStatus: 200 },
    ({ actor, params }) => seats.changeSeatHolder(ctx, actor, params.id, null, jobs),
  );

  // Candidates
  const DISCOVERY_NOTE =
    "The candidate's own choice (R-34), default `anyone`: only a system token may set another value or change it (others get 403 forbidden); a change is audited";
  const CandidateBody = z.strictObject({
    name: Name,
    emails: z.array(Email).max(20).default([]),
    emailDiscovery: EmailDiscovery.optional().describe(DISCOVERY_NOTE),
  });
  defineRoute(
    app,
    { method: 'POST', url: '/api/v1/contracts/{id}/candidates', summary: 'Create a candidate', tags, auth: 'caller', params: IdParams, body: CandidateBody, response: Candidate },
    ({ actor, params, body }) => candidates.createCandidate(ctx, actor, params.id, body),
  );
  defineRoute(
    app,
    {
      method: 'GET', url: '/api/v1/contracts/{id}/candidates', summary: 'Search candidates by name or email', tags, auth: 'caller', params: IdParams,
      query: Paging.extend({ q: z.string().trim().max(200).optional(), projectId: Id.optional() }), response: z.array(Candidate),
    },
    ({ actor, params, query }) => candidates.listCandidates(ctx, actor, params.id, query),
  );
  defineRoute(
    app,
    { method: 'GET', url: '/api/v1/candidates/{id}', summary: 'A candidate', tags, auth: 'caller', params: IdParams, response: Candidate },
    ({ actor, params }) => candidates.getCandidate(ctx, actor, params.id),
  );
  defineRoute(
    app,
    {
      method: 'PATCH', url: '/api/v1/candidates/{id}', summary: 'Change a candidate (emails are replaced as a whole)', tags, auth: 'caller', params: IdParams,
      body: z.strictObject({ name: Name.optional(), emails: z.array(Email).max(20).optional(), emailDiscovery: EmailDiscovery.optional().describe(DISCOVERY_NOTE) }), response: Candidate,
    },
    ({ actor, params, body }) => candidates.updateCandidate(ctx, actor, params.id, body, jobs),
  );
  const Connection = z.object({ candidateId: Id, userId: Id, degree: z.union([z.literal(1), z.literal(2), z.literal(3)]) });
  defineRoute(
    app,
    {
      method: 'PUT', url: '/api/v1/candidates/{id}/connections', summary: 'Set the network degree between a user and the candidate (R-34)', tags, auth: 'caller',
      params: IdParams, body: z.strictObject({ userId: Id, degree: z.union([z.literal(1), z.literal(2), z.literal(3)]) }), response: Connection,
    },
    ({ actor, params, body }) => candidates.setConnection(ctx, actor, params.id, body, jobs),
  );
  defineRoute(
    app,
    { method: 'GET', url: '/api/v1/candidates/{id}/connections', summary: 'Network degrees of a candidate', tags, auth: 'caller', params: IdParams, response: z.array(Connection) },
    ({ actor, params }) => candidates.listConnections(ctx, actor, params.id),
  );

  // Projects and pipeline
  defineRoute(
    app,
    { method: 'POST', url: '/api/v1/contracts/{id}/projects', summary: 'Create a project', tags, auth: 'caller', params: IdParams, body: z.strictObject({ name: Name }), response: Project },
    ({ actor, params, body }) => projects.createProject(ctx, actor, params.id, body),
  );
  defineRoute(
    app,
    { method: 'GET', url: '/api/v1/contracts/{id}/projects', summary: 'Projects of a contract', tags, auth: 'caller', params: IdParams, response: z.array(Project) },
    ({ actor, params }) => projects.listProjects(ctx, actor, params.id),
  );
  defineRoute(
    app,
    { method: 'GET', url: '/api/v1/projects/{id}', summary: 'A project', tags, auth: 'caller', params: IdParams, response: Project },
    ({ actor, params }) => projects.getProject(ctx, actor, params.id),
  );
  defineRoute(
    app,
    {
      method: 'PATCH', url: '/api/v1/projects/{id}', summary: 'Rename, close or reopen a project (closed projects leave the pipeline)', tags, auth: 'caller',
      params: IdParams, body: z.strictObject({ name: Name.optional(), status: z.enum(['active', 'closed']).optional() }), response: Project,
    },
    ({ actor, params, body }) => projects.updateProject(ctx, actor, params.id, body, jobs),
  );
  defineRoute(
    app,
    {
      method: 'POST', url: '/api/v1/projects/{id}/candidates', summary: 'Add a candidate to a project (the pipeline)', tags, auth: 'caller',
      params: IdParams, body: z.strictObject({ candidateId: Id }), response: Project, successStatus: 200,
    },
    ({ actor, params, body }) => projects.addCandidateToProject(ctx, actor, params.id, body.candidateId, jobs),
  );
  defineRoute(
    app,
    {
      method: 'DELETE', url: '/api/v1/projects/{id}/candidates/{candidateId}', summary: 'Remove a candidate from a project', tags, auth: 'caller',
      params: z.object({ id: Id, candidateId: Id }), response: Project,
    },
    ({ actor, params }) => projects.removeCandidateFromProject(ctx, actor, params.id, params.candidateId),
  );
}
