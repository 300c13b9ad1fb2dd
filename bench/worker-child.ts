/**
 * A worker process of the product — the runtime `recruiter-sync serve --role worker` starts, configured from the
 * environment — that also reports its memory over IPC (after a full garbage collection when run with
 * --expose-gc), for the memory-per-idle-seat figure.
 */
import { loadConfig } from '../src/config.ts';
import { startRuntime } from '../src/runtime.ts';

const runtime = await startRuntime({ config: loadConfig(), role: 'worker' });
const collect = (globalThis as { gc?: () => void }).gc;

process.on('message', (message: { type?: string }) => {
  if (message.type === 'memory') {
    collect?.();
    collect?.();
    const m = process.memoryUsage();
    process.send?.({ type: 'memory', rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers });
  } else if (message.type === 'stop') {
    void runtime.close().then(() => process.exit(0));
  }
});
process.send?.({ type: 'ready' });
