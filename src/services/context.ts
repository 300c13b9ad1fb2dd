import type { Kysely, Transaction } from 'kysely';
import type { Clock } from '../clock.ts';
import type { DB } from '../store/schema.ts';

/** What every use case needs: the database and the clock. Nothing here knows about HTTP. */
export interface ServiceContext {
  db: Kysely<DB>;
  clock: Clock;
}

export type Tx = Transaction<DB>;
