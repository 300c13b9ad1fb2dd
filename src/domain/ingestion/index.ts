/** The ingestion policy of SPEC §4 (and the time rules of §5 it shares): pure, header facts only. */
export * from './types.ts';
export { parseAddressList, type ParsedAddress } from './address-list.ts';
export {
  DEFAULT_LEGACY_FIRST_AUTHORIZED_BEFORE,
  DEFAULT_LEGACY_WINDOW_START,
  INACTIVITY_MONTHS,
  WINDOW_MONTHS,
  activityCutoff,
  addCalendarMonths,
  defaultLegacyWindow,
  isPurgeDue,
  isThreadActive,
  reauthorizationResumes,
  windowStart,
  type LegacyWindow,
} from './calendar.ts';
export { addressesOf, buildCandidateLookup, candidatesFor, isInPipeline, ownerAddressSet, participantsOf, removedAddressesOf, withRemovedAddresses, type Participants, type RemovedAddresses } from './participants.ts';
export {
  RULE_TITLES,
  discoveryAdmits,
  formatInstant,
  r30TwoParticipants,
  r31InternalMail,
  r32Pipeline,
  r33MatchingProfile,
  r34DiscoverySetting,
  r35Window,
  r36ActiveThread,
  r37DeletedAtSource,
  r37InTrash,
  r38SpamAndDrafts,
  type DeletionAtSource,
  type DeletionDecision,
} from './rules.ts';
export { INGESTION_EVALUATION_ORDER, decideIngestion, describeDecision } from './decide.ts';
