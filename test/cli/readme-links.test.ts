import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The Markdown files a fresh clone has (tracked or about to be), outside dependencies. */
const markdown = (): string[] =>
  execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.md'], { cwd: ROOT, encoding: 'utf8' })
    .split('\n')
    .filter((f) => f && !f.includes('node_modules/') && fs.existsSync(path.join(ROOT, f)));

describe('documentation links work from a fresh clone', () => {
  it('every relative link in a Markdown file names a file or folder of the repository, and none points outside it', () => {
    const broken: string[] = [];
    for (const file of markdown()) {
      const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
      // Links [text](target) and paths written as code that climb out of the repository.
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!.split('#')[0]!;
        if (!target || /^[a-z]+:/i.test(target)) continue;
        const resolved = path.resolve(ROOT, path.dirname(file), target);
        if (!resolved.startsWith(ROOT + path.sep) || !fs.existsSync(resolved)) broken.push(`${file}: ${m[1]}`);
      }
      for (const m of text.matchAll(/`(\.\.\/[^`]*)`/g)) {
        const resolved = path.resolve(ROOT, path.dirname(file), m[1]!);
        if (!resolved.startsWith(ROOT + path.sep)) broken.push(`${file}: ${m[1]}`);
      }
    }
    expect(broken).toEqual([]);
  });
});
