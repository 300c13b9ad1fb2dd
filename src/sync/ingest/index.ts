/** The provider-neutral ingest step of the sync engine: decide from header facts, then store (SPEC §4–§6). */
export * from './types.ts';
export { CandidateCache, loadCandidateLookup, loadSeatMailbox, ownerAddresses, type CandidateLookupMap } from './candidates.ts';
export { decideBatch, decideMessage, loadThreadFacts, referencedMessageIds } from './decide.ts';
export { makeSnippet, parseMime, SNIPPET_LENGTH, type ParsedAddressEntry, type ParsedAttachment, type ParsedMessage } from './mime.ts';
export { decodeEntities, htmlToText, LINK_REL, sanitizeEmailHtml } from './sanitize.ts';
export {
  decisionDetail,
  deleteMessageAtSource,
  ingestBatch,
  purgeInactiveThreads,
  recordDecision,
  recordDecisions,
  storeMessage,
  type DecisionRecord,
  type DeletionResult,
  type IngestBatchResult,
  type IngestItem,
  type PurgeCounts,
  type StoreMessageInput,
  type StoreMessageResult,
  type StoreOutcome,
} from './store.ts';
export { DECISIONS_LIMIT, listSeatDecisions, ruleTitle, type DecisionFilter, type DecisionView } from './decisions.ts';
export { canonicalMessageId, messageIdList } from './message-ids.ts';
