import type { ColumnType, Generated } from 'kysely';

/** Row types of the schema built by `migrations/`. Keep in step with the migrations. */
type Timestamp = ColumnType<Date, Date, Date>;

export type Provider = 'google' | 'microsoft';
export type EmailAccess = 'off' | 'view' | 'send_and_view';
export type EmailDiscovery = 'anyone' | 'second_degree' | 'first_degree' | 'nobody';
export type AuthorizationKind = 'email' | 'calendar';
export type AuthorizationState = 'authorized' | 'needs_reauthorization' | 'deauthorized';

export interface ContractsTable {
  id: string;
  name: string;
  status: 'active' | 'suspended';
  company_domains: string[];
  email_provider: Provider | null;
  email_access: EmailAccess;
  calendar_enabled: boolean;
  created_at: Timestamp;
  updated_at: Timestamp;
  suspended_at: Timestamp | null;
}

export interface UsersTable {
  id: string;
  contract_id: string;
  email: string;
  name: string;
  role: 'admin' | 'recruiter';
  password_hash: string | null;
  created_at: Timestamp;
}

export interface SeatsTable {
  id: string;
  contract_id: string;
  user_id: string | null;
  status: 'active' | 'parked';
  created_at: Timestamp;
}

export interface SeatHoldersTable {
  id: Generated<number>;
  seat_id: string;
  contract_id: string;
  user_id: string;
  held_from: Timestamp;
  held_until: Timestamp | null;
}

export interface CandidatesTable {
  id: string;
  contract_id: string;
  name: string;
  email_discovery: EmailDiscovery;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface CandidateEmailsTable {
  candidate_id: string;
  contract_id: string;
  address: string;
  normalized: string;
  position: number;
  added_at: Timestamp;
}

export interface CandidateConnectionsTable {
  candidate_id: string;
  user_id: string;
  contract_id: string;
  degree: 1 | 2 | 3;
  updated_at: Timestamp;
}

export interface ProjectsTable {
  id: string;
  contract_id: string;
  name: string;
  status: 'active' | 'closed';
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ProjectCandidatesTable {
  project_id: string;
  candidate_id: string;
  contract_id: string;
  added_at: Timestamp;
}

export interface MailboxAuthorizationsTable {
  id: string;
  seat_id: string;
  contract_id: string;
  kind: AuthorizationKind;
  provider: Provider;
  state: AuthorizationState;
  address: string | null;
  aliases: string[];
  scopes: string[];
  access_token_ciphertext: string | null;
  refresh_token_ciphertext: string | null;
  access_token_expires_at: Timestamp | null;
  first_authorized_at: Timestamp;
  last_authorized_at: Timestamp;
  deauthorized_at: Timestamp | null;
  state_reason: string | null;
  updated_at: Timestamp;
  refresh_lease_id: string | null;
  refresh_lease_until: Timestamp | null;
}

export interface OAuthStatesTable {
  id: string;
  state_hash: string;
  contract_id: string;
  seat_id: string;
  user_id: string;
  kind: AuthorizationKind;
  provider: Provider;
  scopes: string[];
  code_verifier_ciphertext: string;
  redirect_after: string | null;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: Timestamp | null;
}

export interface TokenRevocationsTable {
  id: string;
  contract_id: string;
  seat_id: string;
  provider: Provider;
  token_ciphertext: string;
  token_bound_to: string;
  reason: string;
  attempts: Generated<number>;
  last_error: string | null;
  created_at: Timestamp;
  next_attempt_at: Timestamp;
}

export interface ApiTokensTable {
  id: string;
  kind: 'system' | 'contract';
  contract_id: string | null;
  token_hash: string;
  created_at: Timestamp;
  revoked_at: Timestamp | null;
}

export interface SessionsTable {
  id: string;
  user_id: string;
  token_hash: string;
  created_at: Timestamp;
  expires_at: Timestamp;
}

export interface AuditLogTable {
  id: Generated<number>;
  contract_id: string;
  at: Timestamp;
  actor_kind: 'user' | 'integration' | 'system';
  actor_user_id: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  details: ColumnType<Record<string, unknown>, string, string>;
}

export interface DB {
  contracts: ContractsTable;
  users: UsersTable;
  seats: SeatsTable;
  seat_holders: SeatHoldersTable;
  candidates: CandidatesTable;
  candidate_emails: CandidateEmailsTable;
  candidate_connections: CandidateConnectionsTable;
  projects: ProjectsTable;
  project_candidates: ProjectCandidatesTable;
  mailbox_authorizations: MailboxAuthorizationsTable;
  oauth_states: OAuthStatesTable;
  token_revocations: TokenRevocationsTable;
  api_tokens: ApiTokensTable;
  sessions: SessionsTable;
  audit_log: AuditLogTable;
}
