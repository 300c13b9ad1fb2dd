/** Vocabulary of the ingestion policy (SPEC §4). Header facts only: a body never enters a decision. */
import type { EmailDiscovery } from '../types.ts';

export type IngestionRuleId = 'R-30' | 'R-31' | 'R-32' | 'R-33' | 'R-34' | 'R-35' | 'R-36' | 'R-37' | 'R-38';

/** A fact a rule used, JSON-safe so the decision log can store it as is. Dates are ISO 8601 strings. */
export type FactValue = string | number | boolean | null | readonly (string | number | null)[];
export type Facts = Readonly<Record<string, FactValue>>;

/** Why a rule keeps a message out, in plain words for "Why isn't an email here?". */
export interface Exclusion {
  readonly rule: IngestionRuleId;
  readonly reason: string;
  readonly facts: Facts;
}

export type RuleResult = 'allowed' | Exclusion;

/** One address as a provider hands it over: a header fragment (`"Jane" <jane@x.com>`) or Graph's `{name, address}`. */
export type AddressInput = string | { readonly name?: string | null; readonly address: string };
/** A whole header value (`a@x.com, "Doe, J" <j@y.com>`) or a list of addresses. */
export type AddressField = string | readonly AddressInput[];

/** What a decision may read of a message: addresses as written, its date and its folder/label flags. */
export interface MessageHeaders {
  readonly from: AddressField;
  readonly to: AddressField;
  readonly cc?: AddressField;
  readonly bcc?: AddressField;
  /** The provider's date for the message (Gmail internalDate, Graph receivedDateTime/sentDateTime). */
  readonly date: Date;
  readonly isSpam: boolean;
  readonly isDraft: boolean;
  /** In the Sent folder / SENT label: the owner sent it. Recorded as a fact; no rule depends on it. */
  readonly isSent: boolean;
  /** In Trash / Deleted Items: deleted at the source, so never ingested. */
  readonly isTrashed?: boolean;
}

export interface Owner {
  /** The seat's authorized address; its domain is the one R-31 compares with. */
  readonly address: string;
  /** Further addresses of the same mailbox (send-as aliases). */
  readonly aliases: readonly string[];
}

/** Network degree of the seat holder to a candidate: 1st, 2nd, 3rd-or-further, or none (null). */
export type NetworkDegree = 1 | 2 | 3 | null;

export interface CandidateMatch {
  readonly candidateId: string;
  /** Held by at least one active project of the contract (SPEC §1 Pipeline). */
  readonly inPipeline: boolean;
  readonly emailDiscovery: EmailDiscovery;
  /** The seat holder's degree to this candidate. */
  readonly ownerDegree: NetworkDegree;
}

/**
 * Candidates by normalized address (see `normalizeAddress`). Several candidates may share an address (duplicate
 * profiles), so a value may be a list; a candidate with several emails appears under each of them.
 */
export type CandidateLookup =
  | ReadonlyMap<string, CandidateMatch | readonly CandidateMatch[]>
  | ((normalizedAddress: string) => CandidateMatch | readonly CandidateMatch[] | null | undefined);

/**
 * `historical` covers every sync that looks back: the first one at authorization, a new one after a long
 * deauthorization and a candidate's targeted backfill; they all obey.
 * `incremental` is new mail announced by the provider, which neither rule limits.
 */
export type SyncContext =
  | { readonly kind: 'historical'; readonly now: Date; readonly windowStart: Date }
  | { readonly kind: 'incremental'; readonly now: Date; readonly windowStart?: Date | null };

export interface IngestionContext {
  readonly owner: Owner;
  readonly candidatesByAddress: CandidateLookup;
  /** The thread was started by a send from the product: exempt from. */
  readonly threadInitiatedThroughProduct: boolean;
  /** Latest message (sent or received) of the thread as the provider lists it; null when unknown. */
  readonly threadLastActivityAt: Date | null;
  readonly sync: SyncContext;
}

export interface IngestionDecision {
  readonly ingested: boolean;
  /** The rule that kept the message out; null when it was ingested. */
  readonly rule: IngestionRuleId | null;
  readonly reason: string;
  readonly facts: Facts;
}
