import type { Config } from '../config.ts';
import { closeOnSignals, startRuntime, type Role } from '../runtime.ts';

export async function runServe(config: Config, role: Role): Promise<number> {
  const runtime = await startRuntime({ config, role });
  if (runtime.url) console.error(`recruiter-sync (${role}) listening on ${runtime.url}`);
  else console.error(`recruiter-sync worker running on the ${runtime.database.backend} database`);
  await closeOnSignals(runtime.close);
  return 0;
}
