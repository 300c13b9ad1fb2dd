import { z } from 'zod';
import { EMAIL_ACCESS_LEVELS, EMAIL_DISCOVERY_SETTINGS, PROVIDERS } from '../domain/types.ts';

/** Wire schemas shared by routes. Requests are strict: an unknown field is a validation error, not ignored. */
export const Id = z.guid({ message: 'expected an id (UUID)' });
export const IdParams = z.object({ id: Id });
export const Timestamp = z.iso.datetime({ offset: true });
export const Email = z.string().trim().min(3).max(254);
export const Name = z.string().trim().min(1).max(200);

export const Contract = z.object({
  id: Id,
  name: z.string(),
  status: z.enum(['active', 'suspended']),
  companyDomains: z.array(z.string()),
  createdAt: Timestamp,
});

/** a suspension's deletion, run by a job; `counts` grow while it runs and are final once `status` is `done`. */
export const DeletionReceipt = z.object({
  id: Id,
  contractId: Id,
  status: z.enum(['queued', 'running', 'done']),
  requestedAt: Timestamp,
  finishedAt: Timestamp.nullable(),
  counts: z.record(z.string(), z.number().int()),
  revocations: z.object({ revoked: z.number().int(), unsupported: z.number().int(), failed: z.number().int() }).nullable(),
});

export const User = z.object({
  id: Id,
  contractId: Id,
  email: z.string(),
  name: z.string(),
  role: z.enum(['admin', 'recruiter']),
  seatId: Id.nullable(),
});

export const Seat = z.object({
  id: Id,
  contractId: Id,
  userId: Id.nullable(),
  status: z.enum(['active', 'parked']),
  holders: z.array(z.object({ userId: Id, from: Timestamp, until: Timestamp.nullable() })),
});

export const EmailDiscovery = z.enum(EMAIL_DISCOVERY_SETTINGS as [string, ...string[]]).transform((v) => v as (typeof EMAIL_DISCOVERY_SETTINGS)[number]);

export const Candidate = z.object({
  id: Id,
  contractId: Id,
  name: z.string(),
  emails: z.array(z.string()),
  emailDiscovery: z.enum(['anyone', 'second_degree', 'first_degree', 'nobody']),
  inPipeline: z.boolean(),
  projectIds: z.array(Id),
});

export const Project = z.object({
  id: Id,
  contractId: Id,
  name: z.string(),
  status: z.enum(['active', 'closed']),
  candidateIds: z.array(Id),
});

export const Provider = z.enum(PROVIDERS as [string, ...string[]]).transform((v) => v as (typeof PROVIDERS)[number]);
export const EmailAccess = z.enum(EMAIL_ACCESS_LEVELS as [string, ...string[]]).transform((v) => v as (typeof EMAIL_ACCESS_LEVELS)[number]);

export const Notice = z.object({
  code: z.string(),
  rule: z.string(),
  message: z.string(),
  seatIds: z.array(Id).optional(),
});

export const Settings = z.object({
  emailProvider: z.enum(['google', 'microsoft']).nullable(),
  emailAccess: z.enum(['off', 'view', 'send_and_view']),
  calendarEnabled: z.boolean(),
  allowExternalMailboxes: z.boolean().describe('R-14: mailboxes outside the company domains may be connected, with a warning (off: refused)'),
  notices: z.array(Notice),
});

export const ErrorBody = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()).optional() }),
});

export const Paging = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  offset: z.coerce.number().int().min(0).default(0),
});
