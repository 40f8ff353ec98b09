import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCadence, useProcessDatabase } from '../support/cli.ts';
import { freePort } from '../support/net.ts';
import { NODE_FLAGS } from '../support/node-flags.ts';

// The demo is on by default (DEMO=auto, embedded database). A database that already holds a
// chain's data (imported with the CLI before the first start) is not the demo: the server must
// not make an admin key nobody asked for, nor print it — or a member's number — to its log.

const root = join(import.meta.dirname, '..', '..');
const { env } = useProcessDatabase('cadence-demo-start-');
let key = '';

beforeAll(async () => {
  const loaded = await runCadence(env(), 'sim', 'generate', '--members', '30', '--stores', '1', '--weeks', '4', '--seed', '5', '--end', '2026-10-31');
  expect(loaded.code, loaded.stderr).toBe(0);
  key = /(cad_\S+)/.exec((await runCadence(env(), 'keys', 'create', '--role', 'admin', '--name', 'ops')).stdout)![1]!;
}, 180_000);

describe('the demo on a database with data of its own', () => {
  it('creates no demo admin key and prints no key or member number', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [...NODE_FLAGS, 'src/node.ts'], {
      cwd: root,
      env: {
        PATH: process.env.PATH!, ...env(), PORT: String(port), DEMO: 'on', RULES_RELOAD: 'off',
        ANALYSE_SCHEDULE: 'off', LISTS_SCHEDULE: 'off', LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stdout.on('data', (d) => (log += d));
    child.stderr.on('data', (d) => (log += d));
    // 'close': the process has exited and all its output is read.
    const closed = new Promise((resolve) => child.once('close', resolve));
    try {
      for (let i = 0; !log.includes('Cadence is running'); i++) {
        if (child.exitCode !== null || i > 600) throw new Error(`server did not start:\n${log}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const keys = (await (await fetch(`http://127.0.0.1:${port}/v1/keys`, { headers: { authorization: `Bearer ${key}` } })).json()) as {
        keys: { name: string; role: string }[];
      };
      expect(keys.keys.map((k) => k.name)).toEqual(['ops']);
    } finally {
      child.kill('SIGTERM');
      await closed;
    }
    // All it printed, to its exit: a pause after the banner's first line saw only what a loaded
    // machine had written by then.
    expect(log).toContain('Cadence is running');
    expect(log).not.toMatch(/cad_[a-z2-7]{8,}/);
    expect(log).not.toContain('demo admin key');
    expect(log).not.toMatch(/\/v1\/members\/[^/\s]+\//);
  }, 120_000);
});
