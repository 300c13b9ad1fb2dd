import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// npm's own range logic (semver is in the tree through fastify), so the check reads ranges as npm does.
const semver = createRequire(import.meta.url)('semver') as { satisfies(version: string, range: string): boolean; minVersion(range: string): { version: string } | null };

describe('engines: npm install on Node 20 prints no EBADENGINE warning', () => {
  it('every installed package accepts the oldest Node of each line the project claims to run on (20 and 22)', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
    const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { engines?: { node?: string } | string[]; version?: string }> };
    const oldest = pkg.engines.node.split('||').map((range) => semver.minVersion(range)!.version);
    expect(oldest.map((v) => v.split('.')[0])).toEqual(['20', '22']);
    const refusing = oldest.flatMap((node) =>
      Object.entries(lock.packages)
        .filter(([name, p]) => name !== '' && p.engines && !Array.isArray(p.engines) && p.engines.node && !semver.satisfies(node, p.engines.node))
        .map(([name, p]) => `on ${node}: ${name.replace(/^.*node_modules\//, '')}@${p.version} wants node ${(p.engines as { node: string }).node}`),
    );
    expect(refusing).toEqual([]);
    // The Node running the tests is one the project claims.
    expect(semver.satisfies(process.version, pkg.engines.node)).toBe(true);
  });
});
