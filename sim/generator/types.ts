/** Shapes of a generated mailbox: the contract's people, the mail, and why each message exists. */

export type Rule = 'R-30' | 'R-31' | 'R-32' | 'R-33' | 'R-34' | 'R-35' | 'R-36' | 'R-38';
export type Discovery = 'anyone' | 'second_degree' | 'first_degree' | 'nobody';
export type Degree = 1 | 2 | 3 | null;
/** Received mail may be filed into Archive or a folder the user made (`user:<path>`; a Gmail label). */
export type Folder = 'inbox' | 'sent' | 'spam' | 'drafts' | 'archive' | `user:${string}`;
/** Pipeline membership: in an active project, only in the talent pool, or only in closed projects. */
export type Membership = 'active' | 'talent_pool' | 'closed';

export interface Owner {
  address: string;
  aliases?: string[];
  name: string;
}

export interface GeneratedCandidate {
  key: string;
  name: string;
  /** As stored on the profile: mixed case and `+tags` kept as a recruiter would type them. */
  emails: string[];
  discovery: Discovery;
  /** The seat holder's (mailbox owner's) network degree to this candidate; null = not connected at all. */
  degree: Degree;
  membership: Membership;
  projectKeys: string[];
}

export interface GeneratedProject {
  key: string;
  name: string;
  status: 'active' | 'closed';
  candidateKeys: string[];
}

export interface Person {
  name: string;
  address: string;
}

/** Who an address belongs to, as the generator built it (the oracle reads this, never the headers). */
export type PersonRef =
  | { kind: 'owner'; address: string }
  | { kind: 'candidate'; candidateKey: string; address: string }
  | { kind: 'colleague'; address: string; domain: string }
  | { kind: 'external'; address: string; domain: string };

/** Why a message was generated; one kind per way of passing or failing SPEC §4. */
export type MessageKind =
  | 'candidate' // one-to-one with a pipeline candidate whose discovery setting admits the owner
  | 'candidate_cc' // same thread, but this message adds a colleague in Cc or Bcc
  | 'candidate_draft' // unsent reply to a candidate
  | 'candidate_spam' // a candidate's mail filtered as spam
  | 'discovery' // pipeline candidate whose discovery setting excludes the owner
  | 'not_in_pipeline' // candidate only in the talent pool or in closed projects
  | 'colleague' // one-to-one with a colleague at the owner's domain
  | 'group' // three or more addresses
  | 'self' // note to self: no counterpart
  | 'newsletter' // newsletters and notifications
  | 'external' // one-to-one with someone who is no candidate
  | 'spam'; // spam from strangers

/**
 * Date placement of the thread relative to the generation scenario: `active` (last message within six
 * months), `inactive` (older than six months, inside the window), `spans_window` (begins before the
 * window, active now), `old` (older than six months, anywhere, possibly before the window).
 */
export type ThreadTiming = 'active' | 'inactive' | 'spans_window' | 'old';

export interface GeneratedAttachment {
  filename: string;
  contentType: string;
  /** base64 */
  content: string;
}

export interface Expected {
  ingested: boolean;
  /** The deciding rule (the first failing one in the documented order); null when ingested. */
  rule: Rule | null;
  /** Every independent reason that excludes the message, in the documented order (rule === failing[0]). */
  failing: Rule[];
}

export interface GeneratedMessage {
  /** Stable key: the same seed always gives the same key to the same message. */
  key: string;
  threadKey: string;
  kind: MessageKind;
  timing: ThreadTiming;
  /** Formatted addresses with display names, e.g. `"Zoë Brandt" <Zoe.Brandt+jobs@Gmail.com>`. */
  from: string;
  to: string[];
  cc: string[];
  bcc: string[];
  subject: string;
  text?: string;
  html?: string;
  /** ISO-8601, whole seconds. */
  date: string;
  folder: Folder;
  /** Our own RFC Message-ID, so replies can name their parent before anything is delivered. */
  messageId: string;
  inReplyTo?: string;
  references?: string[];
  attachments?: GeneratedAttachment[];
  /** Construction facts: every distinct person on the message and how many distinct addresses it holds. */
  people: PersonRef[];
  addressCount: number;
  /** Expected outcome under the generation scenario (recompute with `oracle()` for another one). */
  expected: Expected;
}

export interface GeneratedMailbox {
  seed: string | number;
  owner: Owner;
  companyDomain: string;
  now: string;
  candidates: GeneratedCandidate[];
  projects: GeneratedProject[];
  colleagues: Person[];
  /** Sorted by date, then key: deliver in this order. */
  messages: GeneratedMessage[];
}
