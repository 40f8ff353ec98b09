import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { runCadence, useProcessDatabase } from '../support/cli.ts';
import { NODE_FLAGS } from '../support/node-flags.ts';

// `cadence sim run` and the server's living chain (DEMO_LIVE=on), as real processes.

const root = join(import.meta.dirname, '..', '..');
const { dir, env } = useProcessDatabase('cadence-simrun-');

const cadence = (...args: string[]) => runCadence(env(), ...args);

describe('cadence sim run', () => {
  it('drives the loaded chain forward, and a rerun over the same days replays', async () => {
    const gen = await cadence('sim', 'generate', '--members', '80', '--stores', '2', '--weeks', '12', '--seed', '3', '--end', '2026-10-31');
    expect(gen.code, gen.stderr).toBe(0);
    const first = await cadence('sim', 'run', '--days', '3');
    expect(first.code, first.stderr).toBe(0);
    const m = /simulated 2026-11-01 – 2026-11-03: (\d+) baskets committed, (\d+) offers redeemed/.exec(first.stderr);
    expect(m, first.stderr).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(5);
    expect(first.stderr).toContain('list periods 2026-10-26: ');

    const again = await cadence('sim', 'run', '--days', '3');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain(`0 baskets committed (${m![1]} replayed from an earlier run, nothing added)`);
    expect(again.stderr).toContain('2026-10-26 (built before)');

    const bad = await cadence('sim', 'run', '--analyse', 'hourly');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--analyse must be nightly or period');
  }, 120_000);

  it('the server with DEMO_LIVE=on advances the chain a simulated day at a time', async () => {
    const child = spawn('node', [...NODE_FLAGS, 'src/node.ts'], {
      cwd: root,
      env: {
        PATH: process.env.PATH!, ...env(), PORT: '0', DEMO: 'off', DEMO_LIVE: 'on', DEMO_LIVE_SECONDS: '0.2',
        ANALYSE_SCHEDULE: 'off', LISTS_SCHEDULE: 'off', RULES_RELOAD: 'off', LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stderr.on('data', (d) => (out += String(d)));
    const days = await new Promise<string[]>((resolve, reject) => {
      const seen: string[] = [];
      const timer = setTimeout(() => reject(new Error(`no simulated day in time:\n${out}`)), 90_000);
      // Whole lines: a chunk of the pipe may end inside one (a busy reader gets several at once).
      createInterface({ input: child.stdout }).on('line', (line) => {
        out += `${line}\n`;
        if (line.includes('living chain stopped')) reject(new Error(out));
        if (!line.includes('living chain: day simulated')) return;
        seen.push((JSON.parse(line) as { date: string }).date);
        if (seen.length === 2) {
          clearTimeout(timer);
          resolve(seen);
        }
      });
    });
    // the days the CLI simulated are fast-forwarded, then the chain lives on from Nov 4
    expect(days).toEqual(['2026-11-04', '2026-11-05']);
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, out).toBe(0);
  }, 120_000);
});
