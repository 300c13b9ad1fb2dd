import { randomUUID } from 'node:crypto';

/** Identifiers of stored rows: random UUIDs, so ids leak no counts and never collide across processes. */
export const newId = (): string => randomUUID();
