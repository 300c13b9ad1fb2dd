/**
 * The provider-neutral vocabulary of the ingest step: what a provider client hands over for each message
 * (header facts first, the raw MIME only for messages the rules let in, R-41) and what the step decides.
 */
import type { CandidateLookup, Facts, IngestionRuleId, Owner, SyncContext } from '../../domain/ingestion/index.ts';
import type { Provider } from '../../store/schema.ts';

export type { MessageFacts } from '../../providers/types.ts';

/** One seat's mailbox as the ingest step needs it; `loadSeatIngestContext` builds it from the store. */
export interface SeatMailbox {
  readonly seatId: string;
  readonly contractId: string;
  /** The seat's current holder: owner of what is stored now; null while the seat is parked. */
  readonly holderUserId: string | null;
  readonly authorizationId: string;
  readonly provider: Provider;
  readonly owner: Owner;
  readonly firstAuthorizedAt: Date;
  readonly lastAuthorizedAt: Date;
}

/** What the store knows about a provider thread of the seat. */
export interface ThreadFacts {
  /** Started by a send from the product: exempt from R-32…R-34. */
  readonly initiatedThroughProduct: boolean;
  /** when this thread was purged for inactivity; null if it never was. */
  readonly purgedAt: Date | null;
  /** Last activity of the stored thread, if stored. */
  readonly storedLastActivityAt: Date | null;
}

export interface DecideContext {
  readonly owner: Owner;
  readonly candidates: CandidateLookup;
  readonly sync: SyncContext;
  /** From `loadThreadFacts`; null or absent when the store knows nothing of the thread. */
  readonly thread?: ThreadFacts | null;
}

/** The rules the ingest step can name: SPEC §4 plus R-25 (a purged thread's history is not brought back). */
export type IngestRule = IngestionRuleId | 'R-25';

export interface MessageDecision {
  readonly ingested: boolean;
  readonly rule: IngestRule | null;
  readonly reason: string;
  /** The plain-words answer of `describeDecision`. */
  readonly summary: string;
  readonly facts: Facts;
  /** The one counterpart, normalized, when the message has exactly one; else null. */
  readonly counterpart: string | null;
  /** Every distinct address of From/To/Cc/Bcc, normalized and sorted (header facts, for lookups by address). */
  readonly participants: readonly string[];
  /** Candidates the message belongs to (ingested messages only), sorted by id. */
  readonly candidateIds: readonly string[];
  readonly threadInitiatedThroughProduct: boolean;
}
