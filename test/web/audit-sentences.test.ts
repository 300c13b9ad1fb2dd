import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AUDIT_ACTIONS, auditSentence, type AuditEntryView } from '../../src/web/audit-sentences.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ALEX = '00000000-0000-4000-8000-00000000000a';
const RILEY = '00000000-0000-4000-8000-00000000000b';
const JORDAN = '00000000-0000-4000-8000-00000000000c';

const entry = (action: string, over: Partial<AuditEntryView> = {}): AuditEntryView => ({
  id: 1,
  at: '2026-01-01T10:00:00Z',
  actorKind: 'user',
  actorUserId: ALEX,
  actorName: 'Alex Admin',
  actorTokenId: null,
  action,
  targetType: null,
  targetId: null,
  targetName: null,
  userNames: {},
  details: {},
  ...over,
});
const riley = { actorUserId: RILEY, actorName: 'Riley Recruiter', targetType: 'seat', targetId: 'seat-1', targetName: 'Riley Recruiter' };

/** Every action the server writes, with an entry and the sentence an admin reads. */
const CASES: Array<[AuditEntryView, string]> = [
  [entry('settings.changed', { details: { changes: { emailAccess: { from: 'off', to: 'send_and_view' } }, deauthorizedSeats: 0 } }), 'Alex Admin changed email access from Off to Send & view'],
  [
    entry('settings.changed', { details: { changes: { emailAccess: { from: 'send_and_view', to: 'view' }, emailProvider: { from: null, to: 'google' } }, deauthorizedSeats: 3 } }),
    'Alex Admin changed the email provider from none to Google Workspace and email access from Send & view to View only, which disconnected 3 seats',
  ],
  [entry('authorization.granted', { ...riley, details: { kind: 'email', provider: 'google' } }), 'Riley Recruiter connected their mailbox at Google Workspace'],
  [entry('authorization.reauthorized', { ...riley, details: { kind: 'calendar', provider: 'microsoft' } }), 'Riley Recruiter reconnected their calendar at Microsoft 365'],
  [
    entry('authorization.deauthorized', { targetType: 'seat', targetName: 'Riley Recruiter', details: { kind: 'email', provider: 'google', reason: 'access_level_downgrade' } }),
    'Alex Admin disconnected Riley Recruiter’s mailbox at Google Workspace because the email access level was lowered',
  ],
  [entry('authorization.failed', { ...riley, details: { kind: 'email', code: 'scope_missing' } }), 'Riley Recruiter tried to connect their mailbox, which failed (scope missing)'],
  [
    entry('authorization.needs_reauthorization', { actorKind: 'system', actorUserId: null, actorName: null, targetType: 'seat', targetName: 'Riley Recruiter', details: { provider: 'google' } }),
    'Google Workspace stopped accepting Riley Recruiter’s mailbox connection: it needs reconnecting',
  ],
  [
    entry('authorization.revocation_abandoned', { actorKind: 'system', actorUserId: null, actorName: null, targetType: 'seat', targetName: 'Riley Recruiter', details: { provider: 'microsoft', attempts: 5 } }),
    'recruiter-sync gave up revoking Riley Recruiter’s ended connection at Microsoft 365 after 5 attempts',
  ],
  [
    entry('push.stop_abandoned', { actorKind: 'system', actorUserId: null, actorName: null, targetType: 'authorization', details: { provider: 'google', attempts: 1 } }),
    'recruiter-sync gave up stopping new-mail notifications of an ended connection at Google Workspace after 1 attempt',
  ],
  [entry('seat.created', { details: { userId: RILEY }, userNames: { [RILEY]: 'Riley Recruiter' } }), 'Alex Admin gave Riley Recruiter a seat'],
  [entry('seat.created', { details: { userId: null } }), 'Alex Admin created a parked seat'],
  [
    entry('seat.transferred', { details: { fromUserId: RILEY, toUserId: JORDAN, deauthorized: ['email'] }, userNames: { [RILEY]: 'Riley Recruiter', [JORDAN]: 'Jordan Hiring' } }),
    'Alex Admin transferred Riley Recruiter’s seat to Jordan Hiring, which ended Riley Recruiter’s mailbox connection',
  ],
  [entry('seat.parked', { details: { fromUserId: RILEY, toUserId: null, deauthorized: [] }, userNames: { [RILEY]: 'Riley Recruiter' } }), 'Alex Admin parked Riley Recruiter’s seat'],
  [entry('seat.exported', { ...riley, details: { messages: 59, via: 'session' } }), 'Riley Recruiter exported 59 messages'],
  [entry('seat.exported', { ...riley, actorTokenId: 'tok-1', details: { messages: 1, via: 'integration' } }), 'Riley Recruiter (through an integration) exported 1 message'],
  [entry('user.created', { targetType: 'user', targetName: 'Riley Recruiter', details: { role: 'recruiter' } }), 'Alex Admin added Riley Recruiter as a recruiter'],
  [
    entry('thread.visibility_changed', { actorUserId: JORDAN, actorName: 'Jordan Hiring', targetType: 'thread', targetName: 'Frontend role', details: { to: 'contract', messages: 2 } }),
    'Jordan Hiring shared the thread “Frontend role” with the company',
  ],
  [entry('thread.visibility_changed', { actorName: 'Jordan Hiring', targetType: 'thread', targetName: null, details: { to: 'private' } }), 'Jordan Hiring made a thread private'],
  [entry('message.visibility_changed', { actorName: 'Jordan Hiring', targetType: 'message', targetName: 'Offer', details: { from: 'private', to: 'contract' } }), 'Jordan Hiring shared the message “Offer” with the company'],
  [entry('message.visibility_changed', { actorName: 'Jordan Hiring', targetType: 'message', targetName: null, details: { from: 'contract', to: 'private' } }), 'Jordan Hiring made a message private'],
  [entry('email.sent', { ...riley, targetType: 'candidate', targetName: 'Casey Candidate', details: { reply: false } }), 'Riley Recruiter emailed Casey Candidate'],
  [entry('email.sent', { ...riley, targetType: 'candidate', targetName: 'Casey Candidate', details: { reply: true } }), 'Riley Recruiter replied to Casey Candidate'],
  [entry('interview.scheduled', { ...riley, targetType: 'candidate', targetName: 'Casey Candidate', details: { provider: 'google' } }), 'Riley Recruiter scheduled a screening interview with Casey Candidate'],
  [entry('interview.rescheduled', { ...riley, targetType: 'candidate', targetName: 'Casey Candidate', details: { provider: 'google' } }), 'Riley Recruiter rescheduled the screening interview with Casey Candidate'],
  [entry('candidate.email_removed', { ...riley, targetType: 'candidate', targetName: 'Casey Candidate', details: { addedByActor: true } }), 'Riley Recruiter removed an email address from the profile of Casey Candidate; mail with it is no longer synced'],
  [entry('interview.cancelled', { ...riley, targetType: 'candidate', targetName: 'Casey Candidate', details: { provider: 'google' } }), 'Riley Recruiter cancelled the screening interview with Casey Candidate'],
  [
    entry('candidate.discovery_changed', { actorKind: 'integration', actorUserId: null, actorName: null, actorTokenId: 'tok', targetType: 'candidate', targetName: 'Casey Candidate', details: { from: 'anyone', to: 'nobody' } }),
    'An integration changed who may find Casey Candidate’s email from Anyone to Nobody',
  ],
  [
    entry('mail.inactive_threads_purged', { actorKind: 'system', actorUserId: null, actorName: null, details: { rule: 'R-24', threads: 4, messages: 10 } }),
    'recruiter-sync deleted 4 threads (10 messages) without recent activity',
  ],
  [entry('integration.token_created', { details: { purpose: 'ATS sync' } }), 'Alex Admin created an integration token for “ATS sync”'],
  [
    entry('integration.acted_as', { actorKind: 'integration', actorUserId: null, actorName: null, actorTokenId: 'tok', targetType: 'user', targetName: 'Riley Recruiter', details: { method: 'GET', route: '/x', reason: 'nightly import' } }),
    'An integration acted as Riley Recruiter: “nightly import”',
  ],
  [entry('contract.created', { actorKind: 'integration', actorUserId: null, actorName: null }), 'An integration created the company'],
  [entry('contract.updated', { actorKind: 'integration', actorUserId: null, actorName: null, details: { name: 'Acme', companyDomains: ['acme.test'] } }), 'An integration changed the company details to “Acme” with the domains acme.test'],
  [entry('contract.suspended', { actorKind: 'integration', actorUserId: null, actorName: null }), 'An integration suspended the company, which deleted its email and calendar data'],
  [entry('contract.reactivated', { actorKind: 'integration', actorUserId: null, actorName: null }), 'An integration reactivated the company'],
];

describe('audit log sentences (R-07)', () => {
  it.each(CASES.map(([e, sentence]) => [e.action, e, sentence] as const))('%s', (_action, e, sentence) => {
    expect(auditSentence(e)).toBe(sentence);
  });

  it('has a sentence and a filter name for every action the server writes', () => {
    const written = execFileSync('grep', ['-rhoE', "action: ([a-zA-Z]+ \\? )?'[a-z_.]+'( : '[a-z_.]+')?", path.join(ROOT, 'src'), '--include=*.ts', '--exclude-dir=web'], { encoding: 'utf8' })
      .match(/'[a-z_]+\.[a-z_.]+'/g)!
      .map((s) => s.slice(1, -1));
    // Actions written through a variable (toUserId ? 'seat.transferred' : 'seat.parked', existing ? … : …) are in the match too.
    const actions = new Set(written);
    expect(actions.size).toBeGreaterThan(20);
    const covered = new Set(CASES.map(([e]) => e.action));
    for (const action of actions) {
      expect(covered.has(action), `no sentence test for ${action}`).toBe(true);
      expect(AUDIT_ACTIONS[action], `no filter name for ${action}`).toBeTruthy();
    }
  });

  it('never shows ids or raw details: unknown actions are named in words, a removed user stays a person', () => {
    const unknown = auditSentence(entry('seat.renamed', { actorName: null, details: { seatId: RILEY } }));
    expect(unknown).toBe('A former user: seat renamed');
    expect(unknown).not.toContain(RILEY);
    for (const [e] of CASES) expect(auditSentence(e)).not.toMatch(/R-\d\d|[0-9a-f]{8}-[0-9a-f]{4}|seatId|userId/);
  });
});
