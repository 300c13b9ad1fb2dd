export { generateMailbox, summarize, resolveSize, SIZE_PRESETS, type GenerateOptions, type MailboxSize, type MailboxStats } from './generate.ts';
export {
  oracle,
  windowStart,
  activityCutoff,
  syncTime,
  addCalendarMonths,
  discoveryAdmits,
  defaultScenario,
  DEFAULT_RULE_ORDER,
  DEFAULT_LEGACY_CUTOFF,
  DEFAULT_LEGACY_WINDOW_START,
  type Scenario,
} from './oracle.ts';
export { createRng, type Rng } from './random.ts';
export { normalizeAddress } from './text.ts';
export type * from './types.ts';
export { loadIntoSimulator, loadViaControlApi, composeRaw, toDeliverInputs, type ProviderIds, type RawDeliverInput, type MailboxSpec } from './load.ts';
