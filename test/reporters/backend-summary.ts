import type { Reporter, TestModule } from 'vitest/node';

/**
 * Prints how many storage tests ran on each database backend (test names say "on pglite" / "on postgres"),
 * then one plain closing line `tests: N passed, N failed, N skipped`.
 */
export default class BackendSummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    const perBackend = new Map<string, { passed: number; failed: number }>();
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        const bucket = state === 'passed' ? 'passed' : state === 'failed' ? 'failed' : 'skipped';
        counts[bucket]++;
        const backend = /\bon '?(pglite|postgres)'?/.exec(test.fullName)?.[1];
        if (backend && bucket !== 'skipped') {
          const entry = perBackend.get(backend) ?? { passed: 0, failed: 0 };
          entry[bucket]++;
          perBackend.set(backend, entry);
        }
      }
    }
    const lines = ['', 'Database backends:'];
    for (const backend of ['pglite', 'postgres']) {
      const entry = perBackend.get(backend);
      lines.push(`  ${backend.padEnd(9)} ${entry ? `${entry.passed} passed, ${entry.failed} failed` : backend === 'postgres' ? 'not run (set TEST_DATABASE_URL to include it)' : 'not run (no storage test selected)'}`);
    }
    lines.push('', `tests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
    console.log(lines.join('\n'));
  }
}
