import { startSimulators } from '../../sim/server.ts';

/** The Google and Microsoft simulators on a free port, with a small client for their control API. */
export async function startTestSimulators() {
  const sim = await startSimulators({ port: 0, host: '127.0.0.1' });
  const control = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${sim.url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
  return { ...sim, control };
}

export type TestSimulators = Awaited<ReturnType<typeof startTestSimulators>>;
