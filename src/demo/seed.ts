import type { ServiceContext } from '../services/context.ts';
import type { Actor } from '../services/actors.ts';
import { createContract } from '../services/contracts.ts';
import { createUser } from '../services/users.ts';
import { createSeat } from '../services/seats.ts';
import { createCandidate, setConnection } from '../services/candidates.ts';
import { addCandidateToProject, createProject } from '../services/projects.ts';
import type { EmailDiscovery } from '../domain/types.ts';

/** The seeded demo company: an admin, three recruiters with seats, ~40 candidates in two projects. */
export const DEMO_PASSWORD = 'demo-password';
export const DEMO_DOMAIN = 'northwind.example';

export interface DemoCompany {
  contractId: string;
  logins: Array<{ email: string; role: 'admin' | 'recruiter'; name: string; userId: string; seatId: string | null }>;
  candidateIds: string[];
  projectIds: string[];
}

const FIRST = ['Amara', 'Bruno', 'Chen', 'Dalia', 'Emeka', 'Freya', 'Gustavo', 'Hana', 'Ivan', 'Jasmin', 'Kofi', 'Lena', 'Mateo', 'Nadia', 'Oskar', 'Priya', 'Quentin', 'Rosa', 'Sven', 'Tamar'];
const LAST = ['Okafor', 'Silva', 'Wei', 'Haddad', 'Nwosu', 'Larsen', 'Pereira', 'Sato', 'Petrov', 'Khan'];
const MAIL_DOMAINS = ['gmail.com', 'outlook.com', 'proton.me', 'fastmail.com', 'yahoo.com'];
const DISCOVERY: EmailDiscovery[] = ['anyone', 'anyone', 'anyone', 'second_degree', 'first_degree', 'nobody'];

export async function seedDemoCompany(ctx: ServiceContext): Promise<DemoCompany> {
  const system: Actor = { kind: 'integration', tokenId: 'demo-seed', contractId: null };
  const contract = await createContract(ctx, system, { name: 'Northwind Talent', companyDomains: [DEMO_DOMAIN] });
  const people = [
    { email: `alex.admin@${DEMO_DOMAIN}`, name: 'Alex Admin', role: 'admin' as const },
    { email: `riley@${DEMO_DOMAIN}`, name: 'Riley Recruiter', role: 'recruiter' as const },
    { email: `sam@${DEMO_DOMAIN}`, name: 'Sam Sourcer', role: 'recruiter' as const },
    { email: `jordan@${DEMO_DOMAIN}`, name: 'Jordan Hiring', role: 'recruiter' as const },
  ];
  const logins: DemoCompany['logins'] = [];
  for (const person of people) {
    const user = await createUser(ctx, system, contract.id, { ...person, password: DEMO_PASSWORD });
    const seat = person.role === 'recruiter' ? await createSeat(ctx, system, contract.id, { userId: user.id }) : null;
    logins.push({ ...person, userId: user.id, seatId: seat?.id ?? null });
  }
  const projects = [
    await createProject(ctx, system, contract.id, { name: 'Senior Backend Engineer' }),
    await createProject(ctx, system, contract.id, { name: 'Product Designer' }),
  ];
  const candidateIds: string[] = [];
  for (let i = 0; i < 40; i++) {
    const first = FIRST[i % FIRST.length]!;
    const last = LAST[(i * 7) % LAST.length]!;
    const emails = i % 9 === 8 ? [] : [`${first}.${last}${i}@${MAIL_DOMAINS[i % MAIL_DOMAINS.length]}`.toLowerCase()];
    const candidate = await createCandidate(ctx, system, contract.id, { name: `${first} ${last}`, emails, emailDiscovery: DISCOVERY[i % DISCOVERY.length]! });
    candidateIds.push(candidate.id);
    // Most candidates are in one of the two projects; a few are only in the talent pool.
    if (i % 10 !== 9) await addCandidateToProject(ctx, system, projects[i % 2]!.id, candidate.id);
    const recruiter = logins[1 + (i % 3)]!;
    await setConnection(ctx, system, candidate.id, { userId: recruiter.userId, degree: ((i % 3) + 1) as 1 | 2 | 3 });
  }
  return { contractId: contract.id, logins, candidateIds, projectIds: projects.map((p) => p.id) };
}
