import fs from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { PGliteDialect } from './pglite-dialect.ts';
import type { DB } from './schema.ts';

// int8 (bigserial, count(*)) as JS numbers: our counters stay far below 2^53.
pg.types.setTypeParser(20, (value) => Number(value));

export type Backend = 'pglite' | 'postgres';

/** Raw SQL access for components that bring their own SQL (the job queue). */
export interface RawSql {
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: R[] }>;
  /** Runs a parameterless script of one or more statements. */
  exec(script: string): Promise<void>;
}

export interface Database {
  db: Kysely<DB>;
  backend: Backend;
  raw: RawSql;
  /** Postgres connection string when on a server (workers in other processes connect with it). */
  connectionString?: string;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** Postgres server; when unset the embedded database is used. */
  url?: string | undefined;
  /** Data directory of the embedded database; `undefined` with `memory` for tests. */
  dataDir?: string | undefined;
  memory?: boolean;
  poolSize?: number;
}

export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly ownerPid: number,
  ) {
    super(
      `The data directory ${dataDir} is in use by process ${ownerPid}. ` +
        'Stop that process, or point RECRUITER_SYNC_DATA_DIR at another directory.',
    );
  }
}

export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  if (options.url) return openServer(options.url, options.poolSize ?? 10);
  return openEmbedded(options);
}

async function openServer(url: string, poolSize: number): Promise<Database> {
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  pool.on('error', () => {
    // An idle client lost its connection; the pool replaces it on the next checkout.
  });
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    backend: 'postgres',
    connectionString: url,
    raw: {
      query: async (text, params) => {
        const result = await pool.query(text, params as unknown[]);
        return { rows: result.rows };
      },
      exec: async (script) => {
        await pool.query(script);
      },
    },
    close: async () => {
      await db.destroy();
    },
  };
}

async function openEmbedded(options: OpenDatabaseOptions): Promise<Database> {
  let releaseLock = () => {};
  let pglite: PGlite;
  if (options.memory || !options.dataDir) {
    pglite = new PGlite();
  } else {
    const dataDir = path.resolve(options.dataDir);
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    releaseLock = lockDataDir(dataDir);
    try {
      pglite = new PGlite(path.join(dataDir, 'pgdata'));
      await pglite.waitReady;
    } catch (error) {
      releaseLock();
      throw error;
    }
  }
  await pglite.waitReady;
  const db = new Kysely<DB>({ dialect: new PGliteDialect(pglite) });
  return {
    db,
    backend: 'pglite',
    raw: {
      query: async (text, params) => {
        const result = await pglite.query(text, params as unknown[]);
        return { rows: result.rows as never[] };
      },
      exec: async (script) => {
        await pglite.exec(script);
      },
    },
    close: async () => {
      await db.destroy();
      await pglite.close();
      releaseLock();
    },
  };
}

/**
 * One process owns an embedded data directory: a second one gets a clear error instead of corrupting it.
 * The lock file holds the owner's pid; a lock left by a process that no longer exists is taken over.
 */
export function lockDataDir(dataDir: string): () => void {
  const lockPath = path.join(dataDir, 'recruiter-sync.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = fs.openSync(lockPath, 'wx', 0o600);
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        process.off('exit', release);
        try {
          if (fs.readFileSync(lockPath, 'utf8') === String(process.pid)) fs.unlinkSync(lockPath);
        } catch {
          // already gone
        }
      };
      process.on('exit', release);
      return release;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const ownerPid = Number(fs.readFileSync(lockPath, 'utf8').trim());
      if (Number.isInteger(ownerPid) && ownerPid > 0 && processIsAlive(ownerPid)) {
        throw new DataDirLockedError(dataDir, ownerPid);
      }
      fs.unlinkSync(lockPath); // stale lock of a process that died
    }
  }
  throw new Error(`could not lock ${dataDir}`);
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
