import type { EmailDiscovery } from '../domain/types.ts';
import { generateMailbox, type GeneratedMailbox } from '../../sim/generator/index.ts';
import type { Actor } from '../services/actors.ts';
import { createCandidate, setConnection } from '../services/candidates.ts';
import type { ServiceContext } from '../services/context.ts';
import { createContract } from '../services/contracts.ts';
import { addCandidateToProject, createProject, updateProject } from '../services/projects.ts';
import { createSeat } from '../services/seats.ts';
import { updateSettings } from '../services/settings.ts';
import { createUser } from '../services/users.ts';
import { normalizeAddress } from '../domain/addresses.ts';

/**
 * The demo company: an admin and three recruiters of Northwind Talent (Google Workspace), with the
 * candidates, projects and a year of mail of each recruiter's simulated mailbox, all from the seeded
 * mailbox generator — so the product's pipeline and the simulated mail describe the same people.
 */
export const DEMO_PASSWORD = 'demo-password';
export const DEMO_DOMAIN = 'northwind.example';
export const DEMO_COMPANY = 'Northwind Talent';

export const DEMO_PEOPLE = [
  { email: `alex.admin@${DEMO_DOMAIN}`, name: 'Alex Admin', role: 'admin' as const },
  { email: `riley@${DEMO_DOMAIN}`, name: 'Riley Recruiter', role: 'recruiter' as const },
  { email: `sam@${DEMO_DOMAIN}`, name: 'Sam Sourcer', role: 'recruiter' as const },
  { email: `jordan@${DEMO_DOMAIN}`, name: 'Jordan Hiring', role: 'recruiter' as const },
];

/** One generated mailbox per recruiter; deterministic for a given day. */
export function generateDemoMailboxes(now: Date): Array<{ owner: (typeof DEMO_PEOPLE)[number]; mailbox: GeneratedMailbox }> {
  return DEMO_PEOPLE.filter((p) => p.role === 'recruiter').map((owner) => ({
    owner,
    mailbox: generateMailbox({
      seed: `northwind-${owner.email}`,
      owner: { address: owner.email, name: owner.name },
      companyDomain: DEMO_DOMAIN,
      now,
      size: 'demo',
      colleagues: DEMO_PEOPLE.filter((p) => p.email !== owner.email).map((p) => ({ name: p.name, address: p.email })),
    }),
  }));
}

export async function seedDemoCompany(ctx: ServiceContext, mailboxes: ReturnType<typeof generateDemoMailboxes>): Promise<{ contractId: string; candidates: number }> {
  const system: Actor = { kind: 'integration', tokenId: 'demo-seed', contractId: null };
  const contract = await createContract(ctx, system, { name: DEMO_COMPANY, companyDomains: [DEMO_DOMAIN] });
  const users = new Map<string, string>();
  for (const person of DEMO_PEOPLE) {
    const user = await createUser(ctx, system, contract.id, { ...person, password: DEMO_PASSWORD });
    users.set(person.email, user.id);
    if (person.role === 'recruiter') await createSeat(ctx, system, contract.id, { userId: user.id });
  }
  const projects = new Map<string, string>();
  const seen = new Set<string>();
  let candidates = 0;
  for (const { owner, mailbox } of mailboxes) {
    const projectIds = new Map<string, string>();
    for (const project of mailbox.projects) {
      let id = projects.get(project.name);
      if (!id) {
        id = (await createProject(ctx, system, contract.id, { name: project.name })).id;
        if (project.status === 'closed') await updateProject(ctx, system, id, { status: 'closed' });
        projects.set(project.name, id);
      }
      projectIds.set(project.key, id);
    }
    for (const generated of mailbox.candidates) {
      const emails = generated.emails.filter((e) => !seen.has(normalizeAddress(e)));
      if (emails.length === 0) continue;
      emails.forEach((e) => seen.add(normalizeAddress(e)));
      const candidate = await createCandidate(ctx, system, contract.id, { name: generated.name, emails, emailDiscovery: generated.discovery as EmailDiscovery });
      candidates++;
      for (const key of generated.projectKeys) await addCandidateToProject(ctx, system, projectIds.get(key)!, candidate.id);
      if (generated.degree !== null) await setConnection(ctx, system, candidate.id, { userId: users.get(owner.email)!, degree: generated.degree });
    }
  }
  await updateSettings(ctx, system, contract.id, { emailProvider: 'google', emailAccess: 'send_and_view', calendarEnabled: true });
  return { contractId: contract.id, candidates };
}
