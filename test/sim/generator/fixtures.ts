import { generateMailbox, type GenerateOptions } from '../../../sim/generator/index.ts';

export const NOW = new Date('2025-06-15T12:00:00.000Z');
export const OWNER = { address: 'riley@northwind.example', aliases: ['recruiting@northwind.example'], name: 'Riley Recruiter' };
export const DOMAIN = 'northwind.example';

export function generate(size: GenerateOptions['size'], extra: Partial<GenerateOptions> = {}) {
  return generateMailbox({ seed: 'northwind-1', owner: OWNER, companyDomain: DOMAIN, now: NOW, size, ...extra });
}
