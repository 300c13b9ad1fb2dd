import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, ConfigError, loadConfig } from '../../src/config.ts';

const KEY = Buffer.alloc(32, 7).toString('base64');
const production = {
  PUBLIC_URL: 'https://recruiting.example.com',
  TOKEN_ENCRYPTION_KEY: KEY,
  GOOGLE_CLIENT_ID: 'client',
  GOOGLE_CLIENT_SECRET: 'secret',
  GOOGLE_PUBSUB_TOPIC: 'projects/acme/topics/gmail-push',
};

describe('start-up configuration', () => {
  it('refuses a Pub/Sub topic without the push service account in production, naming the variable', () => {
    expect(() => loadConfig(production)).toThrow(ConfigError);
    expect(() => loadConfig(production)).toThrow(/GOOGLE_PUBSUB_SERVICE_ACCOUNT is required when GOOGLE_PUBSUB_TOPIC is set/);
    // An empty value is no value.
    expect(() => loadConfig({ ...production, GOOGLE_PUBSUB_SERVICE_ACCOUNT: '' })).toThrow(/GOOGLE_PUBSUB_SERVICE_ACCOUNT/);
  });

  it('accepts the topic with its service account, no topic at all, and the simulators or plain http outside production', () => {
    expect(loadConfig({ ...production, GOOGLE_PUBSUB_SERVICE_ACCOUNT: 'push@acme.iam.gserviceaccount.com' }).GOOGLE_PUBSUB_SERVICE_ACCOUNT).toBe('push@acme.iam.gserviceaccount.com');
    expect(loadConfig({ ...production, GOOGLE_PUBSUB_TOPIC: undefined }).GOOGLE_PUBSUB_TOPIC).toBeUndefined();
    expect(loadConfig({ ...production, GOOGLE_API_BASE_URL: 'http://127.0.0.1:4000/google', MICROSOFT_API_BASE_URL: 'http://127.0.0.1:4000/microsoft' }).GOOGLE_PUBSUB_TOPIC).toBeDefined();
    expect(loadConfig({ ...production, PUBLIC_URL: 'http://127.0.0.1:3000' }).GOOGLE_PUBSUB_TOPIC).toBeDefined();
  });

  it('trusts no proxy unless TRUST_PROXY names one', () => {
    expect(loadConfig({}).TRUST_PROXY).toBeUndefined();
    expect(loadConfig({ TRUST_PROXY: 'true' }).TRUST_PROXY).toBe(true);
    expect(loadConfig({ TRUST_PROXY: '1' }).TRUST_PROXY).toBe(1);
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }).TRUST_PROXY).toBe('10.0.0.0/8, 127.0.0.1');
    expect(() => loadConfig({ TRUST_PROXY: 'everyone' })).toThrow(/TRUST_PROXY/);
    // `serve --help` lists it.
    expect(CONFIG_VARIABLES.map(([name]) => name)).toContain('TRUST_PROXY');
  });
});
