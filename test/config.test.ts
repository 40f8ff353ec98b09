import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.ts';

const bad = (env: Record<string, string>) => {
  const r = parseConfig(env);
  return r.ok ? null : r.errors;
};

describe('configuration', () => {
  it('takes the defaults from an empty environment', () => {
    const r = parseConfig({});
    expect(r.ok).toBe(true);
  });

  it.each([
    ['PORT', ''],
    ['PORT', ' '],
    ['PORT', '0x10'],
    ['PORT', '1e3'],
    ['PORT', '70000'],
    ['HOST', ''],
    ['DATA_DIR', ''],
    ['RULES_DIR', ''],
    ['DATABASE_URL', 'mysql://cadence@db.example/cadence'],
    ['DATABASE_URL', 'https://db.example/cadence'],
    ['PUBLIC_URL', 'javascript:alert(1)'],
    ['PUBLIC_URL', 'ftp://cadence.example'],
    ['DEMO_LIVE_SECONDS', '1e-9'],
    ['DEMO_LIVE_SECONDS', '3000000'],
    ['MAX_BODY_BYTES', '0'],
    ['LOG_LEVEL', 'verbose'],
    ['CHAIN_TIME_ZONE', 'Mars/Olympus'],
    ['DEMO', 'yes'],
    ['DEMO_LIVE', 'yes'],
    ['RULES_RELOAD', 'yes'],
    ['SHUTDOWN_GRACE_SECONDS', '-1'],
    ['SHUTDOWN_GRACE_SECONDS', 'soon'],
  ])('refuses %s=%j naming the variable', (name, value) => {
    const errors = bad({ [name]: value });
    expect(errors, `${name}=${value} was accepted`).not.toBeNull();
    expect(errors!.join('\n')).toMatch(new RegExp(`^${name}: `, 'm'));
  });

  it.each([
    ['PORT', '0'],
    ['PORT', '8080'],
    ['DATABASE_URL', 'postgres://cadence@localhost/cadence'],
    ['DATABASE_URL', 'postgresql://cadence:pw@db.example:6432/cadence?sslmode=require'],
    ['PUBLIC_URL', 'https://loyalty.example.com'],
    ['DEMO_LIVE_SECONDS', '0.2'],
  ])('accepts %s=%j', (name, value) => {
    expect(bad({ [name]: value })).toBeNull();
  });

  it('never repeats the DATABASE_URL (its password) in its error', () => {
    for (const url of ['mysql://alice:s3cretPW@db.example/cadence', 'postgres://alice:s3cretPW@db.example:port/db']) {
      const errors = bad({ DATABASE_URL: url });
      expect(errors).not.toBeNull();
      expect(errors!.join('\n')).not.toContain('s3cretPW');
    }
  });
});
