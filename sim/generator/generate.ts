import { createRng, type Rng } from './random.ts';
import { activityCutoff, addCalendarMonths, defaultScenario, discoveryAdmits, oracle, syncTime, windowStart, type Scenario } from './oracle.ts';
import { asciiFold, escapeHtml, fillTemplate, formatAddress, normalizeAddress, shortHash } from './text.ts';
import * as V from './vocabulary.ts';
import type {
  Degree,
  Discovery,
  Folder,
  GeneratedAttachment,
  GeneratedCandidate,
  GeneratedMailbox,
  GeneratedMessage,
  GeneratedProject,
  MessageKind,
  Owner,
  Person,
  PersonRef,
  ThreadTiming,
} from './types.ts';

export type MailboxSize = number | 'tiny' | 'demo' | 'benchmark';

export interface GenerateOptions {
  seed: string | number;
  owner: Owner;
  companyDomain: string;
  now: Date;
  size: MailboxSize;
  /** How far back the mail goes (calendar months). Default 14. */
  months?: number;
  /** Share of messages that are one-to-one with pipeline candidates. Default 0.03 (0.2 for `demo`). */
  candidateShare?: number;
  /** The contract's other users (colleagues at the company domain); generated when absent. */
  colleagues?: Person[];
  /**
   * The contract's candidates and projects, when several mailboxes of one contract share them. `degree` is
   * the network degree of THIS mailbox's owner. Generated when absent.
   */
  contract?: { candidates: GeneratedCandidate[]; projects: GeneratedProject[] };
  /** The sync the mail is placed around (window, active threads) and `expected` is computed for. Default: authorized at `now`. */
  scenario?: Scenario;
  /**
   * File part of the received mail into other folders (Archive, the user's folders and sub-folders; on Gmail,
   * archived or labelled), as people and mail rules do. Default true; false keeps all received mail in the Inbox.
   */
  fileIntoFolders?: boolean;
}

/** Where received mail is filed, with the share of it (the rest stays in the Inbox). Folders of both shapes: top-level, below the Inbox, nested. */
const FILING: ReadonlyArray<[Folder, number]> = [
  ['archive', 0.15],
  ['user:Recruiting', 0.06],
  ['user:Recruiting/Candidates', 0.06],
  ['user:Inbox/Follow-up', 0.05],
];

export const SIZE_PRESETS = { demo: 300, benchmark: 20_000 } as const;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Generated dates keep this distance from the window start and the activity cut-off, so the intent is unambiguous. */
const MARGIN = 2 * DAY;

/** Non-candidate messages by kind, as shares of what the candidate share leaves. */
const MIX: Record<Exclude<MessageKind, 'candidate'>, number> = {
  newsletter: 0.38,
  colleague: 0.27,
  group: 0.11,
  external: 0.08,
  spam: 0.055,
  not_in_pipeline: 0.015,
  discovery: 0.01,
  candidate_cc: 0.01,
  candidate_draft: 0.01,
  candidate_spam: 0.005,
  self: 0.005,
};
/** Share of non-candidate threads whose last message falls in the six months before the sync. */
const BULK_RECENT_SHARE = 0.6;
/** How one-to-one pipeline threads are placed in time. */
const CANDIDATE_TIMING: Record<'active' | 'inactive' | 'spans_window', number> = { active: 0.8, inactive: 0.1, spans_window: 0.1 };

interface Slot {
  ref: PersonRef;
  header: string;
}

interface Draft {
  key?: string;
  seq: number;
  threadKey: string;
  kind: MessageKind;
  timing: ThreadTiming;
  date: number;
  folder: Folder;
  from: Slot;
  to: Slot[];
  cc: Slot[];
  bcc: Slot[];
  subject: string;
  text?: string;
  html?: string;
  attachments?: GeneratedAttachment[];
}

interface Ranges {
  now: number;
  earliest: number;
  window: number;
  cutoff: number;
}

type CandidateClass = 'admitted' | 'excluded' | 'outside';

function candidateClass(c: GeneratedCandidate): CandidateClass {
  if (c.membership !== 'active') return 'outside';
  return discoveryAdmits(c.discovery, c.degree) ? 'admitted' : 'excluded';
}

class Builder {
  readonly drafts: Draft[] = [];
  readonly candidates: GeneratedCandidate[] = [];
  readonly projects: GeneratedProject[] = [];
  readonly colleagues: Person[];
  private readonly taken = new Set<string>();
  private readonly externals: Person[] = [];
  private seq = 0;
  private threadCount = 0;
  private readonly ownerDomain: string;
  private readonly company: string;
  readonly threadsByKey = new Map<string, Draft[]>();

  constructor(
    readonly opts: GenerateOptions,
    readonly rng: Rng,
    readonly ranges: Ranges,
  ) {
    this.ownerDomain = opts.owner.address.slice(opts.owner.address.lastIndexOf('@') + 1).toLowerCase();
    const base = opts.companyDomain.split('.')[0] ?? opts.companyDomain;
    this.company = base.charAt(0).toUpperCase() + base.slice(1);
    for (const a of [opts.owner.address, ...(opts.owner.aliases ?? [])]) this.taken.add(normalizeAddress(a));
    if (opts.contract) {
      this.candidates.push(...opts.contract.candidates);
      this.projects.push(...opts.contract.projects);
      for (const c of this.candidates) for (const e of c.emails) this.taken.add(normalizeAddress(e));
    } else {
      const roles = rng.shuffle([...V.ROLES]);
      for (let i = 0; i < 4; i++) {
        this.projects.push({ key: `proj-${i + 1}`, name: roles[i]!, status: i < 3 ? 'active' : 'closed', candidateKeys: [] });
      }
    }
    // The owner is nobody's colleague here, even when the contract's user list includes them.
    const given = (opts.colleagues ?? []).filter((c) => !this.taken.has(normalizeAddress(c.address)));
    this.colleagues = given.length > 0 ? given : this.makeColleagues(8);
    for (const c of this.colleagues) this.taken.add(normalizeAddress(c.address));
  }

  // ---------- people ----------

  private personName(): { first: string; last: string } {
    return { first: this.rng.pick(V.FIRST_NAMES), last: this.rng.pick(V.LAST_NAMES) };
  }

  /** Reserves a unique address (normalized) by numbering the local part when needed. */
  private reserve(local: string, domain: string, tag = ''): string {
    let candidate = `${local}${tag}@${domain}`;
    for (let n = 2; this.taken.has(normalizeAddress(candidate)); n++) candidate = `${local}${n}${tag}@${domain}`;
    this.taken.add(normalizeAddress(candidate));
    return candidate;
  }

  private makeColleagues(count: number): Person[] {
    const out: Person[] = [];
    for (let i = 0; i < count; i++) {
      const { first, last } = this.personName();
      const address = this.reserve(`${asciiFold(first)}.${asciiFold(last)}`.toLowerCase(), this.opts.companyDomain.toLowerCase());
      out.push({ name: `${first} ${last}`, address });
    }
    return out;
  }

  private external(): Person {
    if (this.externals.length >= 40 || (this.externals.length > 0 && this.rng.chance(0.6))) return this.rng.pick(this.externals);
    const { first, last } = this.personName();
    const vendor = this.rng.chance(0.6);
    const domain = vendor ? this.rng.pick(V.VENDOR_DOMAINS) : this.rng.pick(V.PERSONAL_DOMAINS);
    const local = vendor ? asciiFold(first).toLowerCase() : `${asciiFold(first)}_${asciiFold(last)}`.toLowerCase();
    const person = { name: `${first} ${last}`, address: this.reserve(local, domain) };
    this.externals.push(person);
    return person;
  }

  private candidateEmail(first: string, last: string): string {
    const f = asciiFold(first);
    const l = asciiFold(last);
    const style = this.rng.int(0, 3);
    const domain = this.rng.chance(0.15) ? `${l.toLowerCase()}.dev` : this.rng.pick(V.PERSONAL_DOMAINS);
    if (style === 0) return this.reserve(`${f}.${l}`.toLowerCase(), domain);
    if (style === 1) return this.reserve(`${f}.${l}`, domain.charAt(0).toUpperCase() + domain.slice(1)); // mixed case as typed
    if (style === 2) return this.reserve(`${f.toLowerCase()}.${l.toLowerCase()}`, domain, this.rng.pick(['+jobs', '+recruiting', '+cv']));
    return this.reserve(`${f.charAt(0)}${l}`.toLowerCase(), domain);
  }

  /** A new candidate of the given class (or with the given fixed attributes), with projects to match. */
  newCandidate(cls: CandidateClass | 'silent', fixed?: Partial<GeneratedCandidate>): GeneratedCandidate {
    const { first, last } = this.personName();
    const emails = [this.candidateEmail(first, last)];
    if (this.rng.chance(0.3)) emails.push(this.candidateEmail(first, last));
    let discovery: Discovery;
    let degree: Degree;
    let membership: GeneratedCandidate['membership'];
    const degrees: Degree[] = [1, 2, 3, null];
    if (cls === 'excluded') {
      const option = this.rng.pick<[Discovery, Degree[]]>([
        ['first_degree', [2, 3, null]],
        ['second_degree', [3, null]],
        ['nobody', degrees],
      ]);
      discovery = option[0];
      degree = this.rng.pick(option[1]);
      membership = 'active';
    } else if (cls === 'silent') {
      discovery = this.rng.pick<Discovery>(['anyone', 'second_degree', 'first_degree', 'nobody']);
      degree = this.rng.pick(degrees);
      membership = this.rng.pick<GeneratedCandidate['membership']>(['active', 'active', 'talent_pool', 'closed']);
    } else {
      const option = this.rng.pick<[Discovery, Degree[]]>([
        ['anyone', degrees],
        ['anyone', degrees],
        ['second_degree', [1, 2]],
        ['first_degree', [1]],
      ]);
      discovery = option[0];
      degree = this.rng.pick(option[1]);
      membership = cls === 'outside' ? this.rng.pick<GeneratedCandidate['membership']>(['talent_pool', 'closed']) : 'active';
    }
    const candidate: GeneratedCandidate = {
      key: `cand-${String(this.candidates.length + 1).padStart(3, '0')}`,
      name: `${first} ${last}`,
      emails,
      discovery,
      degree,
      membership,
      projectKeys: [],
      ...fixed,
    };
    for (const e of candidate.emails) this.taken.add(normalizeAddress(e));
    this.assignProjects(candidate);
    this.candidates.push(candidate);
    return candidate;
  }

  private assignProjects(c: GeneratedCandidate): void {
    const active = this.projects.filter((p) => p.status === 'active');
    const closed = this.projects.filter((p) => p.status === 'closed');
    const join = (p: GeneratedProject): void => {
      if (!p.candidateKeys.includes(c.key)) p.candidateKeys.push(c.key);
      if (!c.projectKeys.includes(p.key)) c.projectKeys.push(p.key);
    };
    if (c.membership === 'active' && active.length > 0) {
      join(this.rng.pick(active));
      if (this.rng.chance(0.2)) join(this.rng.pick(active));
      if (closed.length > 0 && this.rng.chance(0.15)) join(this.rng.pick(closed));
    } else if (c.membership === 'closed' && closed.length > 0) {
      join(this.rng.pick(closed));
    }
  }

  /** Reuses a candidate of the class now and then (several threads per person), else makes one. */
  candidateFor(cls: CandidateClass, reuse = 0.4): GeneratedCandidate | null {
    const pool = this.candidates.filter((c) => c.emails.length > 0 && candidateClass(c) === cls);
    if (this.opts.contract) return pool.length > 0 ? this.rng.pick(pool) : null;
    if (pool.length > 0 && this.rng.chance(reuse)) return this.rng.pick(pool);
    return this.newCandidate(cls);
  }

  // ---------- slots ----------

  ownerSlot(useAlias: boolean, caseVariant = false): Slot {
    const aliases = this.opts.owner.aliases ?? [];
    let address = useAlias && aliases.length > 0 ? this.rng.pick(aliases) : this.opts.owner.address;
    if (caseVariant) address = address.charAt(0).toUpperCase() + address.slice(1);
    return { ref: { kind: 'owner', address: normalizeAddress(address) }, header: formatAddress(this.opts.owner.name, address) };
  }

  /** The candidate as written on one message: the stored form, or the same mailbox with another case or `+tag`. */
  candidateSlot(c: GeneratedCandidate, email: string): Slot {
    const canonical = normalizeAddress(email);
    const variant = this.rng.int(0, 9);
    let written = email;
    if (variant === 0) written = canonical;
    else if (variant === 1) written = canonical.replace(/^([^@]+)/, (l) => l.toUpperCase());
    else if (variant === 2) written = canonical.replace('@', '+mail@');
    return { ref: { kind: 'candidate', candidateKey: c.key, address: canonical }, header: formatAddress(this.rng.chance(0.9) ? c.name : null, written) };
  }

  personSlot(p: Person, kind: 'colleague' | 'external'): Slot {
    const address = normalizeAddress(p.address);
    const domain = address.slice(address.lastIndexOf('@') + 1);
    return { ref: { kind, address, domain }, header: formatAddress(this.rng.chance(0.9) ? p.name : null, p.address) };
  }

  // ---------- dates ----------

  /**
   * `n` ascending dates whose last lies in [endLo, endHi] and whose first is not before startLo; gaps of
   * hours to days, like a real conversation. Whole seconds, as a Date header carries.
   */
  dates(n: number, endLo: number, endHi: number, startLo: number): number[] {
    const end = endLo + this.rng.next() * Math.max(0, endHi - endLo);
    const gaps: number[] = [];
    for (let i = 1; i < n; i++) gaps.push(this.rng.chance(0.7) ? this.rng.int(1, 48) * HOUR : this.rng.int(2, 10) * DAY);
    const total = gaps.reduce((s, g) => s + g, 0);
    const room = Math.max(0, end - startLo);
    const scale = total > room ? room / total : 1;
    const out = [end];
    for (let i = gaps.length - 1; i >= 0; i--) out.unshift(out[0]! - Math.max(MINUTE, gaps[i]! * scale));
    return out.map((t) => Math.floor(t / 1000) * 1000);
  }

  timingDates(timing: ThreadTiming, n: number): number[] {
    const { now, earliest, window, cutoff } = this.ranges;
    const latest = now - 10 * MINUTE;
    const inWindow = Math.max(window, earliest) + MARGIN;
    switch (timing) {
      case 'active':
        return this.dates(n, cutoff + MARGIN, latest, inWindow);
      case 'inactive':
        return this.dates(n, inWindow + 3 * DAY, cutoff - MARGIN, inWindow);
      case 'spans_window': {
        const old = Math.max(1, Math.min(2, n - 1));
        return [...this.dates(old, earliest, window - MARGIN, earliest), ...this.dates(n - old, cutoff + MARGIN, latest, cutoff + MARGIN)];
      }
      case 'old': {
        // Inactive, anywhere from the start of the mailbox; dates near the window start move away from it.
        const dates = this.dates(n, earliest, Math.max(earliest, cutoff - MARGIN), earliest);
        return dates.map((t) => (Math.abs(t - window) < MARGIN ? (t < window ? window - MARGIN : window + MARGIN) : t));
      }
    }
  }

  /** Which timings the date range allows (a 4-month mailbox has no inactive or pre-window threads). */
  timingPossible(timing: ThreadTiming): boolean {
    const { now, earliest, window, cutoff } = this.ranges;
    const inWindow = Math.max(window, earliest) + MARGIN;
    if (timing === 'inactive') return cutoff - MARGIN > inWindow + 3 * DAY;
    if (timing === 'spans_window') return window - MARGIN > earliest && now - 10 * MINUTE > cutoff + MARGIN;
    if (timing === 'active') return now - 10 * MINUTE > cutoff + MARGIN;
    return cutoff - MARGIN > earliest;
  }

  // ---------- content ----------

  private values(extra: Record<string, string> = {}): Record<string, string> {
    return {
      role: this.rng.pick(V.ROLES),
      company: this.company,
      number: String(this.rng.int(100, 9999)),
      quarter: String(this.rng.int(1, 4)),
      ...extra,
    };
  }

  subject(templates: readonly string[], extra: Record<string, string> = {}): string {
    return fillTemplate(this.rng.pick(templates), this.values(extra));
  }

  /** Plain text, HTML or both, as mail clients send them. */
  body(greeting: string, lines: string[], signature: string, style?: 'text' | 'html' | 'both'): { text?: string; html?: string } {
    const pickStyle = style ?? this.rng.weighted({ both: 0.55, text: 0.25, html: 0.2 });
    const text = `${greeting}\n\n${lines.join('\n\n')}\n\n${signature}\n`;
    const html =
      `<div dir="ltr"><p>${escapeHtml(greeting)}</p>` +
      lines.map((l) => `<p>${escapeHtml(l)}</p>`).join('') +
      `<p>${escapeHtml(signature).replace(/\n/g, '<br>')}</p></div>`;
    if (pickStyle === 'text') return { text };
    if (pickStyle === 'html') return { html };
    return { text, html };
  }

  conversationBody(senderName: string, recipientName: string | null, templates: readonly string[]): { text?: string; html?: string } {
    const first = recipientName ? recipientName.split(' ')[0]! : 'there';
    const lines = [fillTemplate(this.rng.pick(templates), this.values())];
    if (this.rng.chance(0.5)) lines.push(fillTemplate(this.rng.pick(templates), this.values()));
    return this.body(`Hi ${first},`, lines, `Best,\n${senderName}`);
  }

  attachment(name: string): GeneratedAttachment {
    const kind = this.rng.weighted({ pdf: 0.6, ics: 0.25, txt: 0.15 });
    const stem = name.replace(/\s+/g, '_');
    if (kind === 'pdf') {
      const content = `%PDF-1.4\n% Curriculum vitae of ${asciiFold(name)}\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n`;
      return { filename: `CV_${stem}.pdf`, contentType: 'application/pdf', content: Buffer.from(content).toString('base64') };
    }
    if (kind === 'ics') {
      const content = 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//recruiter-sync//generator//EN\r\nBEGIN:VEVENT\r\nSUMMARY:Interview\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n';
      return { filename: 'invite.ics', contentType: 'text/calendar', content: Buffer.from(content).toString('base64') };
    }
    return { filename: `Références_${stem}.txt`, contentType: 'text/plain', content: Buffer.from(`References for ${name}\n`).toString('base64') };
  }

  // ---------- threads ----------

  nextThreadKey(kind: string): string {
    this.threadCount++;
    return `t${String(this.threadCount).padStart(5, '0')}-${kind}`;
  }

  push(d: Omit<Draft, 'seq'>): Draft {
    const draft: Draft = { ...d, seq: this.seq++ };
    this.drafts.push(draft);
    const list = this.threadsByKey.get(d.threadKey);
    if (list) list.push(draft);
    else this.threadsByKey.set(d.threadKey, [draft]);
    return draft;
  }

  /**
   * A one-to-one conversation between the owner and `other`, alternating directions, received mail in the
   * inbox and the owner's replies in Sent.
   */
  conversation(args: {
    threadKey: string;
    kind: MessageKind;
    timing: ThreadTiming;
    dates: number[];
    subject: string;
    other: () => Slot;
    otherName: string | null;
    firstOutbound: boolean;
    templates: readonly string[];
    attachmentChance?: number;
    keys?: string[];
  }): Draft[] {
    const useAlias = this.rng.chance(0.2);
    const out: Draft[] = [];
    args.dates.forEach((date, i) => {
      const outbound = (i % 2 === 0) === args.firstOutbound;
      const other = args.other();
      const owner = this.ownerSlot(useAlias, !outbound && this.rng.chance(0.1));
      const body = outbound
        ? this.conversationBody(this.opts.owner.name, args.otherName, args.templates)
        : this.conversationBody(args.otherName ?? 'Me', this.opts.owner.name, args.templates);
      const attach = !outbound && args.attachmentChance !== undefined && this.rng.chance(args.attachmentChance);
      out.push(
        this.push({
          ...(args.keys?.[i] ? { key: args.keys[i] } : {}),
          threadKey: args.threadKey,
          kind: args.kind,
          timing: args.timing,
          date,
          folder: outbound ? 'sent' : 'inbox',
          from: outbound ? owner : other,
          to: [outbound ? other : owner],
          cc: [],
          bcc: [],
          subject: i === 0 ? args.subject : `Re: ${args.subject}`,
          ...body,
          ...(attach ? { attachments: [this.attachment(args.otherName ?? 'document')] } : {}),
        }),
      );
    });
    return out;
  }

  candidateThread(
    kind: 'candidate' | 'discovery' | 'not_in_pipeline',
    c: GeneratedCandidate,
    timing: ThreadTiming,
    n: number,
    fixed: { keys?: string[]; dates?: number[]; firstOutbound?: boolean } = {},
  ): Draft[] {
    const email = this.rng.pick(c.emails);
    const firstOutbound = this.rng.chance(0.6);
    return this.conversation({
      threadKey: this.nextThreadKey(kind),
      kind,
      timing,
      dates: fixed.dates ?? this.timingDates(timing, n),
      subject: this.subject(V.CANDIDATE_SUBJECTS),
      other: () => this.candidateSlot(c, email),
      otherName: c.name,
      firstOutbound: fixed.firstOutbound ?? firstOutbound,
      templates: V.CANDIDATE_OPENERS,
      attachmentChance: 0.15,
      ...(fixed.keys ? { keys: fixed.keys } : {}),
    });
  }

  /** A reply in an existing candidate thread that loops in a colleague, or an unsent draft. */
  candidateExtra(kind: 'candidate_cc' | 'candidate_draft', thread: Draft[], key?: string, date?: number): Draft | null {
    const last = thread[thread.length - 1]!;
    const room = this.ranges.now - 10 * MINUTE - last.date;
    if (date === undefined && room < 20 * MINUTE) return null;
    const when = date ?? Math.floor((last.date + 10 * MINUTE + this.rng.next() * Math.min(room - 10 * MINUTE, 2 * DAY)) / 1000) * 1000;
    const candidateSlot = [last.from, ...last.to].find((s) => s.ref.kind === 'candidate')!;
    const owner = this.ownerSlot(false);
    const colleague = this.personSlot(this.rng.pick(this.colleagues), 'colleague');
    const useBcc = kind === 'candidate_cc' && this.rng.chance(0.3);
    const subject = last.subject.startsWith('Re: ') ? last.subject : `Re: ${last.subject}`;
    return this.push({
      ...(key ? { key } : {}),
      threadKey: last.threadKey,
      kind,
      timing: last.timing,
      date: when,
      folder: kind === 'candidate_draft' ? 'drafts' : 'sent',
      from: owner,
      to: [candidateSlot],
      cc: kind === 'candidate_cc' && !useBcc ? [colleague] : [],
      bcc: useBcc ? [colleague] : [],
      subject,
      ...this.conversationBody(this.opts.owner.name, null, V.CANDIDATE_OPENERS),
    });
  }

  colleagueThread(timing: ThreadTiming, n: number, colleague?: Person, keys?: string[], dates?: number[]): Draft[] {
    const person = colleague ?? this.rng.pick(this.colleagues);
    return this.conversation({
      threadKey: this.nextThreadKey('colleague'),
      kind: 'colleague',
      timing,
      dates: dates ?? this.timingDates(timing, n),
      subject: this.subject(V.COLLEAGUE_SUBJECTS),
      other: () => this.personSlot(person, 'colleague'),
      otherName: person.name,
      firstOutbound: this.rng.chance(0.5),
      templates: ['Can you take a look before Friday?', 'Sounds good, I will update the scorecard.', 'Adding this to the agenda for the hiring sync.', 'Approved on my side.', 'Let me check with finance and come back to you.'],
      ...(keys ? { keys } : {}),
    });
  }

  externalThread(timing: ThreadTiming, n: number, person?: Person, keys?: string[], dates?: number[]): Draft[] {
    const p = person ?? this.external();
    return this.conversation({
      threadKey: this.nextThreadKey('external'),
      kind: 'external',
      timing,
      dates: dates ?? this.timingDates(timing, n),
      subject: this.subject(V.EXTERNAL_SUBJECTS),
      other: () => this.personSlot(p, 'external'),
      otherName: p.name,
      firstOutbound: this.rng.chance(0.3),
      templates: ['Please find the details below.', 'Happy to set up a call next week.', 'Thanks, received.', 'Attached is the updated proposal.'],
      attachmentChance: 0.1,
      ...(keys ? { keys } : {}),
    });
  }

  /** Three or more addresses: a hiring manager in Cc, a Bcc, a panel of colleagues, an introduction. */
  groupThread(
    timing: ThreadTiming,
    n: number,
    fixed?: { variant: 'candidate_cc' | 'candidate_bcc'; candidate: GeneratedCandidate; colleague: Person; keys: string[]; dates: number[] },
  ): Draft[] {
    const threadKey = this.nextThreadKey('group');
    const dates = fixed?.dates ?? this.timingDates(timing, n);
    const randomVariant = this.rng.weighted({ candidate_cc: 0.35, colleagues: 0.35, externals: 0.2, candidate_bcc: 0.1 });
    const variant = fixed?.variant ?? randomVariant;
    const subject = this.subject(V.GROUP_SUBJECTS, { name: this.personName().first });
    let candidate: GeneratedCandidate | null = fixed?.candidate ?? null;
    if (!candidate && (variant === 'candidate_cc' || variant === 'candidate_bcc')) candidate = this.candidateFor('admitted', 0.9);
    const colleagueA = fixed?.colleague ?? this.rng.pick(this.colleagues);
    const otherColleagues = this.colleagues.filter((c) => c !== colleagueA);
    const extA = this.external();
    const extB = this.external();
    // A second colleague, or someone else when the contract has a single colleague: three addresses either way.
    const colleagueB = otherColleagues.length > 0 ? this.rng.pick(otherColleagues) : extA;
    const colleagueBKind = otherColleagues.length > 0 ? 'colleague' : 'external';
    const useAlias = this.rng.chance(0.15);
    return dates.map((date, i) => {
      const outbound = i % 2 === 0;
      const owner = this.ownerSlot(useAlias);
      let others: Slot[];
      if (candidate && variant !== 'colleagues' && variant !== 'externals') {
        others = [this.candidateSlot(candidate, candidate.emails[0]!), this.personSlot(colleagueA, 'colleague')];
      } else if (variant === 'externals' || (!candidate && variant !== 'colleagues')) {
        others = [this.personSlot(extA, 'external'), extB === extA ? this.personSlot(colleagueA, 'colleague') : this.personSlot(extB, 'external')];
      } else {
        others = [this.personSlot(colleagueA, 'colleague'), this.personSlot(colleagueB, colleagueBKind)];
      }
      const [first, second] = others as [Slot, Slot];
      const bccVariant = variant === 'candidate_bcc' && outbound;
      return this.push({
        ...(fixed?.keys[i] ? { key: fixed.keys[i] } : {}),
        threadKey,
        kind: 'group',
        timing,
        date,
        folder: outbound ? 'sent' : 'inbox',
        from: outbound ? owner : first,
        to: outbound ? [first] : [owner],
        cc: bccVariant ? [] : [second],
        bcc: bccVariant ? [second] : [],
        subject: i === 0 ? subject : `Re: ${subject}`,
        ...this.conversationBody(outbound ? this.opts.owner.name : 'Me', null, ['Looping everyone in.', 'Thanks all — see you on Thursday.', 'Adding the hiring manager for visibility.', 'Here is the agenda for the panel.']),
      });
    });
  }

  selfNote(timing: ThreadTiming, key?: string, date?: number): Draft {
    const owner = this.ownerSlot(false);
    return this.push({
      ...(key ? { key } : {}),
      threadKey: this.nextThreadKey('self'),
      kind: 'self',
      timing,
      date: date ?? this.timingDates(timing, 1)[0]!,
      folder: 'sent',
      from: owner,
      to: [this.ownerSlot(false)],
      cc: [],
      bcc: [],
      subject: this.rng.pick(['Note to self', 'Reminder: follow up with finalists', 'Brouillon — idées de sourcing']),
      ...this.body('Todo:', ['Call back the two finalists', 'Update the scorecards'], '-', 'text'),
    });
  }

  newsletterThread(timing: ThreadTiming, n: number, keys?: string[], dates?: number[], toAlias = false): Draft[] {
    const sender = this.rng.pick(V.NEWSLETTERS);
    const threadKey = this.nextThreadKey('newsletter');
    const subject = this.subject(sender.subjects);
    const owner = this.ownerSlot(toAlias);
    const from: Slot = {
      ref: { kind: 'external', address: normalizeAddress(sender.address), domain: sender.address.split('@')[1]!.toLowerCase() },
      header: formatAddress(sender.name, sender.address),
    };
    return (dates ?? this.timingDates(timing, n)).map((date, i) => {
      const headline = fillTemplate(this.rng.pick(sender.subjects), this.values());
      const html = `<html><body><h1>${escapeHtml(headline)}</h1><p>${escapeHtml(sender.name)} update for ${escapeHtml(this.opts.owner.name)}.</p><p><a href="https://${sender.address.split('@')[1]}/view/${this.rng.int(1000, 99999)}">View online</a> · <a href="https://${sender.address.split('@')[1]}/unsubscribe">Unsubscribe</a></p></body></html>`;
      return this.push({
        ...(keys?.[i] ? { key: keys[i] } : {}),
        threadKey,
        kind: 'newsletter',
        timing,
        date,
        folder: 'inbox',
        from,
        to: [owner],
        cc: [],
        bcc: [],
        subject: i === 0 ? subject : `Re: ${subject}`,
        html,
        ...(this.rng.chance(0.6) ? { text: `${headline}\n\nView online: https://${sender.address.split('@')[1]}/\n` } : {}),
      });
    });
  }

  spam(timing: ThreadTiming, fromCandidate: GeneratedCandidate | null, key?: string, date?: number): Draft {
    const sender = this.rng.pick(V.SPAM_SENDERS);
    const from = fromCandidate
      ? this.candidateSlot(fromCandidate, fromCandidate.emails[0]!)
      : this.personSlot({ name: sender.name, address: sender.address }, 'external');
    return this.push({
      ...(key ? { key } : {}),
      threadKey: this.nextThreadKey(fromCandidate ? 'candidate_spam' : 'spam'),
      kind: fromCandidate ? 'candidate_spam' : 'spam',
      timing,
      date: date ?? this.timingDates(timing, 1)[0]!,
      folder: 'spam',
      from,
      to: [this.ownerSlot(false)],
      cc: [],
      bcc: [],
      subject: fromCandidate ? this.subject(V.CANDIDATE_SUBJECTS) : this.rng.pick(V.SPAM_SUBJECTS),
      ...this.body('Dear friend,', ['Click here to claim your prize.'], 'Regards', 'html'),
    });
  }
}

// ---------------------------------------------------------------------------------------------------

/** Messages per thread: many single messages, some long conversations. */
function threadLength(rng: Rng, max: number): number {
  return rng.chance(0.3) ? 1 : rng.int(2, Math.max(2, max));
}

function fillRandom(b: Builder, total: number, share: number): void {
  const rng = b.rng;
  const candidateBudget = Math.round(total * share);
  const rest = total - candidateBudget;
  const budgets = new Map<MessageKind, number>();
  let assigned = 0;
  for (const [kind, w] of Object.entries(MIX) as Array<[MessageKind, number]>) {
    const n = Math.floor(rest * w);
    budgets.set(kind, n);
    assigned += n;
  }
  budgets.set('newsletter', (budgets.get('newsletter') ?? 0) + rest - assigned);
  budgets.set('candidate', candidateBudget);

  // One-to-one threads with admitted pipeline candidates.
  const activeThreads: Draft[][] = [];
  const timings = (Object.keys(CANDIDATE_TIMING) as Array<keyof typeof CANDIDATE_TIMING>).filter((t) => b.timingPossible(t));
  let left = candidateBudget;
  while (left > 0) {
    const timing = rng.weighted(Object.fromEntries(timings.map((t) => [t, CANDIDATE_TIMING[t]])) as Record<string, number>) as ThreadTiming;
    const c = b.candidateFor('admitted');
    if (!c) break;
    const n = Math.min(left, timing === 'spans_window' ? Math.max(2, threadLength(rng, 6)) : threadLength(rng, 6));
    if (timing === 'spans_window' && n < 2) {
      b.candidateThread('candidate', c, 'active', n);
    } else {
      const thread = b.candidateThread('candidate', c, timing, n);
      if (timing === 'active' || timing === 'spans_window') activeThreads.push(thread);
    }
    left -= n;
  }
  let spill = left; // budget that could not be placed goes to newsletters

  // Extras inside active candidate threads: a colleague looped in or a draft, at most two per thread.
  const hosts = rng.shuffle([...activeThreads, ...activeThreads]);
  for (const kind of ['candidate_cc', 'candidate_draft'] as const) {
    let n = budgets.get(kind) ?? 0;
    while (n > 0 && hosts.length > 0) {
      const host = hosts.pop()!;
      const extra = b.candidateExtra(kind, host);
      if (extra) {
        host.push(extra);
        n--;
      }
    }
    spill += n;
  }

  const recentTiming = (): ThreadTiming => (b.timingPossible('active') ? 'active' : 'old');
  // Other mail: threads active in the last six months or older ones. Recent mail is denser (people clean
  // up old mail), which also keeps most messages failing a single rule.
  const bulkTiming = (): ThreadTiming => (b.timingPossible('active') && rng.chance(BULK_RECENT_SHARE) ? 'active' : 'old');
  const fill = (kind: MessageKind, make: (n: number) => number): void => {
    let n = budgets.get(kind) ?? 0;
    while (n > 0) {
      const made = make(n);
      if (made === 0) break;
      n -= made;
    }
    spill += Math.max(0, n);
  };
  fill('discovery', (n) => {
    const c = b.candidateFor('excluded');
    return c ? b.candidateThread('discovery', c, recentTiming(), Math.min(n, threadLength(rng, 4))).length : 0;
  });
  fill('not_in_pipeline', (n) => {
    const c = b.candidateFor('outside');
    return c ? b.candidateThread('not_in_pipeline', c, recentTiming(), Math.min(n, threadLength(rng, 4))).length : 0;
  });
  fill('candidate_spam', () => {
    const c = b.candidateFor('admitted', 0.9);
    return c ? (b.spam(recentTiming(), c), 1) : 0;
  });
  fill('colleague', (n) => b.colleagueThread(bulkTiming(), Math.min(n, threadLength(rng, 6))).length);
  fill('group', (n) => b.groupThread(bulkTiming(), Math.min(n, threadLength(rng, 4))).length);
  fill('external', (n) => b.externalThread(bulkTiming(), Math.min(n, threadLength(rng, 4))).length);
  fill('spam', () => (b.spam(bulkTiming(), null), 1));
  fill('self', () => (b.selfNote(bulkTiming()), 1));
  budgets.set('newsletter', (budgets.get('newsletter') ?? 0) + spill);
  fill('newsletter', (n) => b.newsletterThread(bulkTiming(), Math.min(n, rng.chance(0.85) ? 1 : rng.int(2, 3))).length);
}

/** Candidates with no mail at all, as any pipeline has. */
function addSilentCandidates(b: Builder, count: number): void {
  for (let i = 0; i < count; i++) b.newCandidate('silent');
}

const DAYS_AGO = (b: Builder, days: number, hours = 0): number => Math.floor((b.ranges.now - days * DAY - hours * HOUR) / 1000) * 1000;

/**
 * The tiny mailbox: every rule of SPEC §4 at least once, with stable keys (`tiny-01`…) that tests name.
 * Dates are days before `now`; with the default scenario: active ≤ 30 days, inactive ~8 months, pre-window > 13 months.
 */
function fillTiny(b: Builder): void {
  const mk = (cls: CandidateClass | 'silent', fixed: Partial<GeneratedCandidate>): GeneratedCandidate => b.newCandidate(cls, fixed);
  const zoe = mk('admitted', { name: 'Zoë Brandt', emails: ['Zoe.Brandt+jobs@Gmail.com', 'zoe@brandt.dev'], discovery: 'anyone', degree: 2, membership: 'active' });
  const second = mk('admitted', { discovery: 'second_degree', degree: 1, membership: 'active' });
  const unconnected = mk('admitted', { discovery: 'anyone', degree: null, membership: 'active' });
  const firstOnly = mk('excluded', { discovery: 'first_degree', degree: 2, membership: 'active' });
  const nobody = mk('excluded', { discovery: 'nobody', degree: 1, membership: 'active' });
  const pool = mk('outside', { discovery: 'anyone', degree: 2, membership: 'talent_pool' });
  const closed = mk('outside', { discovery: 'anyone', degree: 1, membership: 'closed' });
  mk('silent', { discovery: 'second_degree', degree: 3, membership: 'active' });
  const [col1, col2] = b.colleagues as [Person, Person];
  const zoeAt = (address: string): Slot => ({ ref: { kind: 'candidate', candidateKey: zoe.key, address: normalizeAddress(address) }, header: formatAddress(zoe.name, address) });

  // One active thread with Zoë: out to her stored `+tag` form, back from the plain form to an alias,
  // then a reply that loops in a colleague, then an unsent draft.
  const t1 = b.candidateThread('candidate', zoe, 'active', 2, { keys: ['tiny-01', 'tiny-02'], dates: [DAYS_AGO(b, 20), DAYS_AGO(b, 19)], firstOutbound: true });
  t1[0]!.to = [zoeAt('Zoe.Brandt+jobs@Gmail.com')];
  t1[1]!.from = zoeAt('zoe.brandt@gmail.com');
  t1[1]!.to = [b.ownerSlot(true)];
  const cc = b.candidateExtra('candidate_cc', t1, 'tiny-03', DAYS_AGO(b, 18))!;
  cc.cc = [b.personSlot(col1, 'colleague')];
  cc.bcc = [];
  b.candidateExtra('candidate_draft', t1, 'tiny-04', DAYS_AGO(b, 17));

  // HTML only, an attachment, a non-ASCII subject.
  const t2 = b.candidateThread('candidate', second, 'active', 2, { keys: ['tiny-05', 'tiny-06'], dates: [DAYS_AGO(b, 10), DAYS_AGO(b, 9)], firstOutbound: false });
  const inbound = t2[0]!;
  inbound.subject = 'Entretien — poste d’ingénieur ☕';
  inbound.html = `<p>Bonjour,</p><p>Voici mon CV. Je suis disponible jeudi.</p><p>${escapeHtml(second.name)}</p>`;
  delete inbound.text;
  inbound.attachments = [{ filename: `CV_${second.name.replace(/\s+/g, '_')}.pdf`, contentType: 'application/pdf', content: Buffer.from('%PDF-1.4\n%%EOF\n').toString('base64') }];
  t2[1]!.subject = `Re: ${inbound.subject}`;

  b.candidateThread('candidate', unconnected, 'active', 1, { keys: ['tiny-07'], dates: [DAYS_AGO(b, 5)], firstOutbound: true });
  b.candidateThread('discovery', firstOnly, 'active', 1, { keys: ['tiny-08'], dates: [DAYS_AGO(b, 12)], firstOutbound: false });
  b.candidateThread('discovery', nobody, 'active', 1, { keys: ['tiny-09'], dates: [DAYS_AGO(b, 14)], firstOutbound: true });
  b.candidateThread('not_in_pipeline', pool, 'active', 1, { keys: ['tiny-10'], dates: [DAYS_AGO(b, 8)], firstOutbound: false });
  b.candidateThread('not_in_pipeline', closed, 'active', 1, { keys: ['tiny-11'], dates: [DAYS_AGO(b, 7)], firstOutbound: true });
  const colleagueThread = b.colleagueThread('active', 2, col1, ['tiny-12', 'tiny-13'], [DAYS_AGO(b, 6, 2), DAYS_AGO(b, 6)]);
  colleagueThread[0]!.folder = 'inbox';
  [colleagueThread[0]!.from, colleagueThread[0]!.to] = [b.personSlot(col1, 'colleague'), [b.ownerSlot(false)]];
  colleagueThread[1]!.folder = 'sent';
  [colleagueThread[1]!.from, colleagueThread[1]!.to] = [b.ownerSlot(false), [b.personSlot(col1, 'colleague')]];
  b.groupThread('active', 1, { variant: 'candidate_cc', candidate: second, colleague: col2, keys: ['tiny-14'], dates: [DAYS_AGO(b, 4)] });
  b.newsletterThread('active', 1, ['tiny-15'], [DAYS_AGO(b, 3)]);
  b.newsletterThread('active', 1, ['tiny-16'], [DAYS_AGO(b, 2)], true);
  b.externalThread('active', 1, undefined, ['tiny-17'], [DAYS_AGO(b, 11)]);
  b.spam('active', second, 'tiny-18', DAYS_AGO(b, 1));
  // Time: an inactive thread (about eight months old), a thread that began before the window and is
  // active now, and two messages where two reasons meet (the documented order decides).
  b.candidateThread('candidate', zoe, 'inactive', 2, { keys: ['tiny-19', 'tiny-20'], dates: [DAYS_AGO(b, 240), DAYS_AGO(b, 238)] });
  b.candidateThread('candidate', second, 'spans_window', 2, { keys: ['tiny-21', 'tiny-22'], dates: [DAYS_AGO(b, 400), DAYS_AGO(b, 15)] });
  b.selfNote('active', 'tiny-23', DAYS_AGO(b, 13));
  b.candidateThread('candidate', unconnected, 'old', 1, { keys: ['tiny-24'], dates: [DAYS_AGO(b, 420)] });
  b.colleagueThread('old', 1, col2, ['tiny-25'], [DAYS_AGO(b, 300)]);
  b.groupThread('active', 1, { variant: 'candidate_bcc', candidate: unconnected, colleague: col1, keys: ['tiny-26'], dates: [DAYS_AGO(b, 3, 5)] });
}

/** Distinct addresses and people on a message, by construction (the owner's aliases are distinct addresses). */
function peopleOf(d: Draft): { people: PersonRef[]; addressCount: number } {
  const slots = [d.from, ...d.to, ...d.cc, ...d.bcc];
  const addresses = new Set(slots.map((s) => s.ref.address));
  const people: PersonRef[] = [];
  const seen = new Set<string>();
  for (const s of slots) {
    const id = s.ref.kind === 'owner' ? 'owner' : s.ref.kind === 'candidate' ? `c:${s.ref.candidateKey}` : `a:${s.ref.address}`;
    if (seen.has(id)) continue;
    seen.add(id);
    people.push(s.ref);
  }
  return { people, addressCount: addresses.size };
}

export function resolveSize(size: MailboxSize): number | 'tiny' {
  if (size === 'tiny') return 'tiny';
  if (size === 'demo' || size === 'benchmark') return SIZE_PRESETS[size];
  if (!Number.isInteger(size) || size < 0) throw new Error(`size must be a non-negative integer, tiny, demo or benchmark (got ${String(size)})`);
  return size;
}

/** Generates a deterministic mailbox: the same options always give the same candidates, messages and keys. */
/**
 * Received mail filed away from the Inbox (by hand or by a rule on arrival). Only mail received by the sync: mail
 * arriving later stays in the Inbox, where push notifications watch. A filed message is the same message: the
 * oracle decides it as before (only spam and drafts are never mail, R-38).
 */
function fileIntoFolders(drafts: Draft[], rng: Rng, sync: number): void {
  for (const d of drafts) {
    if (d.folder !== 'inbox' || d.date > sync) continue;
    let roll = rng.next();
    for (const [folder, share] of FILING) {
      if (roll < share) {
        d.folder = folder;
        break;
      }
      roll -= share;
    }
  }
}

export function generateMailbox(opts: GenerateOptions): GeneratedMailbox {
  const size = resolveSize(opts.size);
  const scenario = opts.scenario ?? defaultScenario(opts.now);
  const now = Math.floor(opts.now.getTime() / 1000) * 1000;
  const months = opts.months ?? 14;
  const ranges: Ranges = {
    now,
    earliest: addCalendarMonths(new Date(now), -months).getTime(),
    window: windowStart(scenario).getTime(),
    cutoff: activityCutoff(scenario).getTime(),
  };
  const rng = createRng(`${String(opts.seed)}|${opts.owner.address.toLowerCase()}`);
  const b = new Builder(opts, rng, ranges);
  if (size === 'tiny') {
    fillTiny(b);
  } else {
    const share = opts.candidateShare ?? (opts.size === 'demo' ? 0.2 : 0.03);
    if (share < 0 || share > 1) throw new Error('candidateShare must be between 0 and 1');
    fillRandom(b, size, share);
    if (!opts.contract) addSilentCandidates(b, Math.max(2, Math.round(b.candidates.length * 0.2)));
  }

  if (opts.fileIntoFolders !== false) fileIntoFolders(b.drafts, rng.fork('folders'), syncTime(scenario).getTime());

  const tag = shortHash(`${String(opts.seed)}|${opts.owner.address.toLowerCase()}`);
  const sorted = [...b.drafts].sort((x, y) => x.date - y.date || x.seq - y.seq);
  const width = Math.max(5, String(sorted.length).length);
  const keyOf = new Map<Draft, string>();
  sorted.forEach((d, i) => keyOf.set(d, d.key ?? `m${String(i + 1).padStart(width, '0')}`));
  const messageIdOf = (d: Draft): string => {
    const from = d.from.ref.address;
    return `<${keyOf.get(d)}.${tag}@${from.slice(from.lastIndexOf('@') + 1)}>`;
  };
  // Replies name the previous message of their thread (by date) in In-Reply-To and the chain in References.
  const parentOf = new Map<Draft, Draft[]>();
  for (const thread of b.threadsByKey.values()) {
    const ordered = [...thread].sort((x, y) => x.date - y.date || x.seq - y.seq);
    ordered.forEach((d, i) => parentOf.set(d, ordered.slice(0, i).filter((p) => p.folder !== 'drafts')));
  }

  const messages: GeneratedMessage[] = sorted.map((d) => {
    const chain = (parentOf.get(d) ?? []).map(messageIdOf);
    const { people, addressCount } = peopleOf(d);
    const message: GeneratedMessage = {
      key: keyOf.get(d)!,
      threadKey: d.threadKey,
      kind: d.kind,
      timing: d.timing,
      from: d.from.header,
      to: d.to.map((s) => s.header),
      cc: d.cc.map((s) => s.header),
      bcc: d.bcc.map((s) => s.header),
      subject: d.subject,
      ...(d.text !== undefined ? { text: d.text } : {}),
      ...(d.html !== undefined ? { html: d.html } : {}),
      date: new Date(d.date).toISOString(),
      folder: d.folder,
      messageId: messageIdOf(d),
      ...(chain.length > 0 ? { inReplyTo: chain[chain.length - 1]!, references: chain } : {}),
      ...(d.attachments ? { attachments: d.attachments } : {}),
      people,
      addressCount,
      expected: { ingested: false, rule: null, failing: [] },
    };
    return message;
  });

  const mailbox: GeneratedMailbox = {
    seed: opts.seed,
    owner: { ...opts.owner, aliases: [...(opts.owner.aliases ?? [])] },
    companyDomain: opts.companyDomain,
    now: new Date(now).toISOString(),
    candidates: b.candidates,
    projects: b.projects,
    colleagues: b.colleagues,
    messages,
  };
  const expected = oracle(mailbox, scenario);
  for (const m of messages) m.expected = expected.get(m.key)!;
  return mailbox;
}

export interface MailboxStats {
  messages: number;
  threads: number;
  byKind: Partial<Record<MessageKind, number>>;
  /** By deciding rule; `ingested` for null. */
  byRule: Record<string, number>;
  /** Messages excluded by exactly one independent reason (unambiguous whatever the rule order). */
  singleReason: number;
  multiReason: number;
  withAttachments: number;
  nonAsciiSubjects: number;
  htmlOnly: number;
  textOnly: number;
}

export function summarize(mailbox: GeneratedMailbox, expected?: Map<string, { rule: string | null; failing: string[] }>): MailboxStats {
  const stats: MailboxStats = {
    messages: mailbox.messages.length,
    threads: new Set(mailbox.messages.map((m) => m.threadKey)).size,
    byKind: {},
    byRule: {},
    singleReason: 0,
    multiReason: 0,
    withAttachments: 0,
    nonAsciiSubjects: 0,
    htmlOnly: 0,
    textOnly: 0,
  };
  for (const m of mailbox.messages) {
    const e = expected?.get(m.key) ?? m.expected;
    stats.byKind[m.kind] = (stats.byKind[m.kind] ?? 0) + 1;
    const rule = e.rule ?? 'ingested';
    stats.byRule[rule] = (stats.byRule[rule] ?? 0) + 1;
    if (e.failing.length === 1) stats.singleReason++;
    if (e.failing.length > 1) stats.multiReason++;
    if (m.attachments?.length) stats.withAttachments++;
    if (/[^\x20-\x7e]/.test(m.subject)) stats.nonAsciiSubjects++;
    if (m.html !== undefined && m.text === undefined) stats.htmlOnly++;
    if (m.text !== undefined && m.html === undefined) stats.textOnly++;
  }
  return stats;
}
