import { parseArgs } from 'node:util';
import { CONFIG_VARIABLES, ConfigError, loadConfig } from '../config.ts';
import { DataDirLockedError } from '../store/database.ts';

const USAGE = `recruiter-sync — email and calendar integration of the recruiting product

Usage:
  recruiter-sync demo [--port 3000]                 server + workers + simulators + a seeded demo company
  recruiter-sync serve [--role web|worker|all]      the production process
  recruiter-sync sim [--port 4000]                  the Google and Microsoft simulators alone
  recruiter-sync migrate                            apply database migrations and exit
  recruiter-sync admin-token create                 print a new system API token

Run "recruiter-sync serve --help" for the configuration variables.`;

function configHelp(): string {
  const width = Math.max(...CONFIG_VARIABLES.map(([name]) => name.length));
  return `Configuration (environment variables):\n${CONFIG_VARIABLES.map(([name, meaning]) => `  ${name.padEnd(width)}  ${meaning}`).join('\n')}`;
}

/** Entry point of the binary; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve': {
        const { values } = parseArgs({ args: rest, options: { role: { type: 'string', default: 'all' }, help: { type: 'boolean', short: 'h' } } });
        if (values.help) {
          console.log(`recruiter-sync serve [--role web|worker|all]\n\n${configHelp()}`);
          return 0;
        }
        const role = values.role;
        if (role !== 'web' && role !== 'worker' && role !== 'all') throw new ConfigError(`--role must be web, worker or all (got "${role}")`);
        const { runServe } = await import('./serve.ts');
        return await runServe(loadConfig(), role);
      }
      case 'demo': {
        const { values } = parseArgs({ args: rest, options: { port: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
        if (values.help) {
          console.log(`recruiter-sync demo [--port 3000]\n\n${configHelp()}`);
          return 0;
        }
        const { runDemo } = await import('./demo.ts');
        return await runDemo(loadConfig({ ...process.env, ...(values.port ? { PORT: values.port } : {}) }));
      }
      case 'sim': {
        const { runSimCommand } = await import('../../sim/cli.ts');
        return await runSimCommand(rest);
      }
      case 'migrate': {
        const { runMigrate } = await import('./admin.ts');
        return await runMigrate(loadConfig());
      }
      case 'admin-token': {
        if (rest[0] !== 'create') {
          console.error('usage: recruiter-sync admin-token create');
          return 2;
        }
        const { runAdminTokenCreate } = await import('./admin.ts');
        return await runAdminTokenCreate(loadConfig());
      }
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        console.log(USAGE);
        return command === undefined ? 2 : 0;
      default:
        console.error(`Unknown command "${command}".\n\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    if (error instanceof ConfigError || error instanceof DataDirLockedError) {
      console.error(error.message);
      return 1;
    }
    if (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) {
      console.error(`${error.message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  }
}
