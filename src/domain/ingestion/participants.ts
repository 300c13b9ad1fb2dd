/** SPEC §4 definitions: owner addresses, the distinct addresses of a message, its counterparts. */
import { normalizeAddress } from '../addresses.ts';
import { parseAddressList } from './address-list.ts';
import type { AddressField, CandidateLookup, CandidateMatch, MessageHeaders, Owner } from './types.ts';

export interface Participants {
  /** Distinct normalized addresses of From, To, Cc and Bcc, sorted. */
  readonly addresses: readonly string[];
  /** The owner addresses among them, sorted. */
  readonly ownerAddresses: readonly string[];
  /** The addresses minus the owner addresses, sorted. */
  readonly counterparts: readonly string[];
}

/** The owner addresses, normalized: the authorized address and its aliases. */
export function ownerAddressSet(owner: Owner): ReadonlySet<string> {
  return new Set([owner.address, ...owner.aliases].map(normalizeAddress).filter((a) => a !== ''));
}

/** Every address of a field as written; strings are parsed as header values, `{address}` objects taken as is. */
export function addressesOf(field: AddressField | undefined): string[] {
  if (field === undefined) return [];
  const items = typeof field === 'string' ? [field] : field;
  const out: string[] = [];
  for (const item of items) {
    if (typeof item === 'string') {
      for (const parsed of parseAddressList(item)) out.push(parsed.address);
    } else if (item.address.trim() !== '') {
      out.push(item.address.trim());
    }
  }
  return out;
}

export function participantsOf(message: Pick<MessageHeaders, 'from' | 'to' | 'cc' | 'bcc'>, owner: Owner): Participants {
  const owned = ownerAddressSet(owner);
  const distinct = new Set<string>();
  for (const field of [message.from, message.to, message.cc, message.bcc]) {
    for (const address of addressesOf(field)) {
      const normalized = normalizeAddress(address);
      if (normalized !== '') distinct.add(normalized);
    }
  }
  const addresses = [...distinct].sort();
  return {
    addresses,
    ownerAddresses: addresses.filter((a) => owned.has(a)),
    counterparts: addresses.filter((a) => !owned.has(a)),
  };
}

/** The candidates whose emails include this (already normalized) address, deduplicated and sorted by id. */
export function candidatesFor(lookup: CandidateLookup, normalizedAddress: string): CandidateMatch[] {
  const found = typeof lookup === 'function' ? lookup(normalizedAddress) : lookup.get(normalizedAddress);
  if (found === undefined || found === null) return [];
  const list: readonly CandidateMatch[] = isList(found) ? found : [found];
  const byId = new Map<string, CandidateMatch>();
  for (const match of list) if (!byId.has(match.candidateId)) byId.set(match.candidateId, match);
  return [...byId.values()].sort((a, b) => (a.candidateId < b.candidateId ? -1 : a.candidateId > b.candidateId ? 1 : 0));
}

/**
 * Addresses removed from a candidate's profile, with when (on no profile now). A lookup may carry them so that
 * R-33 can say why the address's mail stopped and deny the R-50 exemption: an address added by mistake and
 * removed again must not keep syncing through a conversation the product started with it.
 */
export type RemovedAddresses = ReadonlyMap<string, Date>;
const REMOVED = Symbol('removedAddresses');

export function withRemovedAddresses<T extends object>(lookup: T, removed: RemovedAddresses): T {
  Object.defineProperty(lookup, REMOVED, { value: removed, enumerable: false });
  return lookup;
}

export function removedAddressesOf(lookup: CandidateLookup): RemovedAddresses | undefined {
  return (lookup as { [REMOVED]?: RemovedAddresses })[REMOVED];
}

function isList(value: CandidateMatch | readonly CandidateMatch[]): value is readonly CandidateMatch[] {
  return Array.isArray(value);
}

/**
 * Builds the lookup from candidate profiles: every email of every candidate, normalized, so that case and
 * `+tags` never decide a match.
 */
export function buildCandidateLookup(
  candidates: Iterable<CandidateMatch & { readonly emails: readonly string[] }>,
): ReadonlyMap<string, readonly CandidateMatch[]> {
  const lookup = new Map<string, CandidateMatch[]>();
  for (const { emails, candidateId, inPipeline, emailDiscovery, ownerDegree } of candidates) {
    const match: CandidateMatch = { candidateId, inPipeline, emailDiscovery, ownerDegree };
    for (const email of emails) {
      const key = normalizeAddress(email);
      if (key === '') continue;
      const list = lookup.get(key) ?? [];
      if (!list.some((m) => m.candidateId === candidateId)) list.push(match);
      lookup.set(key, list);
    }
  }
  return lookup;
}

/** SPEC §1: a candidate is in the pipeline while at least one active project of the contract holds them. */
export function isInPipeline(projects: Iterable<{ readonly active: boolean }>): boolean {
  for (const project of projects) if (project.active) return true;
  return false;
}
