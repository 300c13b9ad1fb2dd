import { parseArgs } from 'node:util';
import { startSimulators } from './server.ts';

const USAGE = `recruiter-sync sim [--port 4000] [--host 127.0.0.1]

Serves the Google and Microsoft simulators and their control API (see sim/README.md):
  Google     <url>/google      (GOOGLE_API_BASE_URL)
  Microsoft  <url>/microsoft   (MICROSOFT_API_BASE_URL)
  control    <url>/_sim`;

/** `recruiter-sync sim`: runs until SIGINT/SIGTERM; returns the exit code. */
export async function runSimCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { port: { type: 'string', default: '4000' }, host: { type: 'string', default: '127.0.0.1' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port must be a port number, got "${values.port}"`);
    return 2;
  }
  const sim = await startSimulators({ port, host: values.host });
  console.log(`Simulators listening on ${sim.url}`);
  console.log(`  GOOGLE_API_BASE_URL=${sim.url}/google`);
  console.log(`  MICROSOFT_API_BASE_URL=${sim.url}/microsoft`);
  console.log(`  control API: ${sim.url}/_sim`);
  console.log(`  OAuth client: recruiter-sync-local / local-secret (any redirect URI on 127.0.0.1 or localhost)`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void sim.close().then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return 0;
}
