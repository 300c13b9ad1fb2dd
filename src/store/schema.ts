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
  /** mailboxes outside the company domains may be connected (with a warning); off by default. */
  allow_external_mailboxes: Generated<boolean>;
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

/** Failed sign-ins per account or client address (keys hashed), shared by every web process. */
export interface SignInThrottlesTable {
  key: string;
  failures: number;
  last_failure_at: Timestamp;
  blocked_until: Timestamp | null;
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
  /** Who typed it in the product; null when the host system gave it. Migration 0018. */
  added_by_user_id: ColumnType<string | null, string | null | undefined, string | null>;
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
  /** When the provider last accepted the grant: a sync run or the health probe (0015). */
  last_checked_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
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
  /** the flow is finished only by the session or integration caller that started it (hash of its secret). */
  binding_kind: 'session' | 'integration' | null;
  binding_hash: string | null;
  /** An integration's flow: the callback parks the sealed code until the integration completes it. */
  flow_hash: string | null;
  code_ciphertext: string | null;
  code_expires_at: Timestamp | null;
  completed_at: Timestamp | null;
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
  /** The system token that created it (null: the CLI, or before this was recorded). */
  created_by: ColumnType<string | null, string | null | undefined, string | null>;
  purpose: ColumnType<string | null, string | null | undefined, string | null>;
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
  /** The integration token that performed the action, itself or acting as `actor_user_id`. */
  actor_token_id: ColumnType<string | null, string | null | undefined, string | null>;
  action: string;
  target_type: string | null;
  target_id: string | null;
  details: ColumnType<Record<string, unknown>, string, string>;
}

/** one suspension's deletion, run by the `contract.suspend` job (migration 0016). */
export interface ContractDeletionReceiptsTable {
  id: string;
  contract_id: string;
  status: 'queued' | 'running' | 'done';
  /** Rows deleted per kind so far (see THIRD_PARTY_DATA_TABLES). */
  counts: ColumnType<Record<string, number>, string | undefined, string>;
  revocations: ColumnType<{ revoked: number; unsupported: number; failed: number } | null, string | null | undefined, string | null>;
  requested_by_token_id: string | null;
  requested_at: Timestamp;
  started_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  finished_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export type Visibility = 'private' | 'contract';
type Json<T> = ColumnType<T, string, string>;

export interface MailThreadsTable {
  id: string;
  contract_id: string;
  owner_seat_id: string;
  provider: Provider;
  provider_thread_id: string;
  candidate_id: string | null;
  counterpart: string;
  subject: string;
  last_activity_at: Timestamp;
  initiated_through_product: boolean;
  created_at: Timestamp;
}

export interface MailMessagesTable {
  id: string;
  contract_id: string;
  owner_seat_id: string;
  owner_user_id: string | null;
  thread_id: string;
  candidate_id: string | null;
  provider_message_id: string;
  rfc_message_id: string | null;
  in_reply_to: string | null;
  references_ids: string[];
  direction: 'inbound' | 'outbound';
  from_address: string;
  from_name: string | null;
  to_addresses: Json<Array<{ address: string; name?: string }>>;
  cc_addresses: Json<Array<{ address: string; name?: string }>>;
  counterpart: string;
  subject: string;
  sent_at: Timestamp;
  snippet: string;
  body_html: string | null;
  body_text: string | null;
  visibility: Visibility;
  origin: 'synced' | 'sent_from_product';
  stored_at: Timestamp;
  /** found gone at the provider by the first sync after a re-authorization; kept, never removed by sync. */
  source_deleted_while_deauthorized_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  /** When the row was written, by the database's clock (a column default), comparable with `sync_states.cursor_since`. */
  recorded_at: ColumnType<Date, never, never>;
}

export interface MailAttachmentsTable {
  id: string;
  contract_id: string;
  message_id: string;
  filename: string;
  content_type: string;
  size_bytes: number;
}

export interface IngestionDecisionsTable {
  id: Generated<number>;
  contract_id: string;
  seat_id: string;
  provider_message_id: string;
  provider_thread_id: string | null;
  counterpart: string | null;
  decided_at: Timestamp;
  ingested: boolean;
  rule: string | null;
  detail: Json<Record<string, unknown>>;
}

export interface SyncStatesTable {
  authorization_id: string;
  contract_id: string;
  seat_id: string;
  phase: 'idle' | 'historical' | 'incremental' | 'paused';
  cursor: Json<Record<string, unknown>> | null;
  checkpoint: Json<Record<string, unknown>> | null;
  window_start: Timestamp | null;
  messages_examined: Generated<number>;
  messages_ingested: Generated<number>;
  messages_estimated: number | null;
  historical_started_at: Timestamp | null;
  historical_completed_at: Timestamp | null;
  last_synced_at: Timestamp | null;
  last_error: string | null;
  last_error_kind: string | null;
  updated_at: Timestamp;
  /** The run holding the grant (0007): its lease id, until when (database time) and what kind of run. */
  run_lease_id: string | null;
  run_lease_until: Timestamp | null;
  run_lease_kind: 'historical' | 'incremental' | 'backfill' | null;
  /** Whose cursor this is (0013): the provider and mailbox address its historical sync read, and when that began. */
  cursor_provider: Provider | null;
  cursor_address: string | null;
  cursor_since: Timestamp | null;
}

export interface PushSubscriptionsTable {
  id: string;
  contract_id: string;
  authorization_id: string;
  provider: Provider;
  external_id: string;
  resource: string;
  client_state_hash: string | null;
  expires_at: Timestamp;
  created_at: Timestamp;
  /** 0006: the provider asked for a renewal (Graph reauthorizationRequired); the last renewal. */
  renew_requested_at: Timestamp | null;
  renewed_at: Timestamp | null;
}

export interface PurgedThreadsTable {
  contract_id: string;
  owner_seat_id: string;
  provider_thread_id: string;
  purged_at: Timestamp;
  /** The thread was started from the product (0015): a reply after the purge is still exempt. */
  initiated_through_product: Generated<boolean>;
}

import type { CalendarEventsTable } from './migrations/0005_calendar_events.ts';
import type { CandidateEmailRemovalsTable } from './migrations/0018_screenings.ts';
export type { CalendarEventsTable };
import type { PushStopsTable } from './migrations/0006_push_channels.ts';
export type { PushStopsTable };

/** a provider mailbox's quota budget (migration 0014, src/sync/quota-budget.ts). */
export interface QuotaBudgetsTable {
  provider: 'google' | 'microsoft';
  address: string;
  slots: Json<Record<string, number>>;
  /** Places in flight: one a call (`n` absent), or `n` held by a sync run's reservation. */
  leases: Json<Array<{ id: string; until: number; n?: number }>>;
  updated_at: Timestamp;
}

export interface DB {
  quota_budgets: QuotaBudgetsTable;
  calendar_events: CalendarEventsTable;
  mail_threads: MailThreadsTable;
  mail_messages: MailMessagesTable;
  mail_attachments: MailAttachmentsTable;
  ingestion_decisions: IngestionDecisionsTable;
  sync_states: SyncStatesTable;
  push_subscriptions: PushSubscriptionsTable;
  push_stops: PushStopsTable;
  purged_threads: PurgedThreadsTable;
  contracts: ContractsTable;
  users: UsersTable;
  seats: SeatsTable;
  seat_holders: SeatHoldersTable;
  candidates: CandidatesTable;
  candidate_emails: CandidateEmailsTable;
  candidate_email_removals: CandidateEmailRemovalsTable;
  candidate_connections: CandidateConnectionsTable;
  projects: ProjectsTable;
  project_candidates: ProjectCandidatesTable;
  mailbox_authorizations: MailboxAuthorizationsTable;
  oauth_states: OAuthStatesTable;
  token_revocations: TokenRevocationsTable;
  api_tokens: ApiTokensTable;
  sessions: SessionsTable;
  audit_log: AuditLogTable;
  sign_in_throttles: SignInThrottlesTable;
  contract_deletion_receipts: ContractDeletionReceiptsTable;
}
