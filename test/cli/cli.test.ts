import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/database.ts';

const bin = path.resolve('bin/recruiter-sync.js');
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-cli-'));
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    timeout: 90_000,
    env: { PATH: process.env.PATH ?? '', RECRUITER_SYNC_DATA_DIR: dataDir, ...env },
  });

describe('the recruiter-sync command line', () => {
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('migrate applies the migrations, admin-token create prints only a token that is stored hashed', async () => {
    const migrate = run(['migrate']);
    expect(migrate.status, migrate.stderr).toBe(0);
    expect(migrate.stderr).toMatch(/Applied 0001_foundation/);
    const created = run(['admin-token', 'create']);
    expect(created.status, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/^rs_sys_[A-Za-z0-9_-]{43}\n$/);
    const database = await openDatabase({ dataDir });
    try {
      const { rows } = await database.raw.query<{ kind: string; token_hash: string }>('SELECT kind, token_hash FROM api_tokens');
      expect(rows).toHaveLength(1);
      expect(rows[0]!.kind).toBe('system');
      expect(rows[0]!.token_hash).not.toContain(created.stdout.trim());
    } finally {
      await database.close();
    }
  });

  it('refuses bad configuration with a message naming the variable', () => {
    const bad = run(['serve'], { PORT: 'eighty', TOKEN_ENCRYPTION_KEY: Buffer.alloc(32).toString('base64') });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/PORT/);
    const noKey = run(['serve']);
    expect(noKey.status).toBe(1);
    expect(noKey.stderr).toMatch(/TOKEN_ENCRYPTION_KEY is required/);
    const testMode = run(['serve'], { RECRUITER_SYNC_TEST_MODE: '1', TOKEN_ENCRYPTION_KEY: Buffer.alloc(32).toString('base64') });
    expect(testMode.status).toBe(1);
    expect(testMode.stderr).toMatch(/refused with real provider URLs/);
  });

  it('lists the configuration with serve --help and rejects unknown commands', () => {
    const help = run(['serve', '--help']);
    expect(help.status).toBe(0);
    for (const name of ['DATABASE_URL', 'TOKEN_ENCRYPTION_KEY', 'GOOGLE_API_BASE_URL', 'RECRUITER_SYNC_TEST_MODE']) expect(help.stdout).toContain(name);
    const unknown = run(['bogus']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/Unknown command/);
  });
});
