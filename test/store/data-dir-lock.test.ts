import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DataDirLockedError, openDatabase } from '../../src/store/database.ts';
import { migrateToLatest } from '../../src/store/migrate.ts';

describe('embedded data directory', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-data-'));
    dirs.push(dir);
    return path.join(dir, 'nested', 'data');
  };
  afterEach(() => dirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  it('is created when missing, keeps data across restarts, and releases its lock on close', async () => {
    const dataDir = tempDir();
    const first = await openDatabase({ dataDir });
    await migrateToLatest(first);
    await first.raw.exec(`INSERT INTO contracts (id, name, created_at, updated_at) VALUES ('00000000-0000-4000-8000-000000000001', 'Kept', now(), now())`);
    await first.close();
    expect(fs.existsSync(path.join(dataDir, 'recruiter-sync.lock'))).toBe(false);
    const second = await openDatabase({ dataDir });
    const { rows } = await second.raw.query<{ name: string }>('SELECT name FROM contracts');
    expect(rows).toEqual([{ name: 'Kept' }]);
    await second.close();
  });

  it('refuses a second owner with a clear error, in this process and in another one', async () => {
    const dataDir = tempDir();
    const owner = await openDatabase({ dataDir });
    try {
      await expect(openDatabase({ dataDir })).rejects.toBeInstanceOf(DataDirLockedError);
      const script = `import { openDatabase } from ${JSON.stringify(path.resolve('src/store/database.ts'))};
        try { await openDatabase({ dataDir: ${JSON.stringify(dataDir)} }); console.log('opened'); }
        catch (e) { console.log(e.message); }`;
      const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
      expect(child.stdout).toContain(`is in use by process ${process.pid}`);
    } finally {
      await owner.close();
    }
  });

  it('takes over a lock left by a process that no longer exists', async () => {
    const dataDir = tempDir();
    fs.mkdirSync(dataDir, { recursive: true });
    const dead = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid;
    fs.writeFileSync(path.join(dataDir, 'recruiter-sync.lock'), String(dead));
    const db = await openDatabase({ dataDir });
    expect(fs.readFileSync(path.join(dataDir, 'recruiter-sync.lock'), 'utf8')).toBe(String(process.pid));
    await db.close();
  });
});
