// A separate process that asks for a grant's access token (used to prove one refresh at a time, R-11).
import { AdjustableClock } from '../../src/clock.ts';
import { TokenCipher } from '../../src/crypto/token-cipher.ts';
import { createProviderRegistry } from '../../src/providers/registry.ts';
import { accessTokenFor } from '../../src/services/access-tokens.ts';
import { openDatabase } from '../../src/store/database.ts';

const env = process.env;
const database = await openDatabase({ url: env.DATABASE_URL, poolSize: 2 });
const clock = new AdjustableClock();
clock.set(new Date(Number(env.CLOCK_AT)));
const providers = createProviderRegistry(
  {
    google: { clientId: 'recruiter-sync-local', clientSecret: 'local-secret', baseUrl: `${env.SIM_URL}/google` },
    microsoft: { clientId: 'recruiter-sync-local', clientSecret: 'local-secret', baseUrl: `${env.SIM_URL}/microsoft` },
  },
  () => clock.now(),
);
const deps = { db: database.db, clock, providers, cipher: TokenCipher.fromBase64(env.TOKEN_KEY!), publicUrl: 'http://127.0.0.1:3000' };
// Start together: both processes reach the refresh at the same moment.
await new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(env.START_AT) - Date.now())));
const token = await accessTokenFor(deps, env.AUTHORIZATION_ID!);
process.stdout.write(JSON.stringify({ token }));
await database.close();
