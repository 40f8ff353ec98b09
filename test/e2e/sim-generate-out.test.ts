import { readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCadence } from '../support/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'cadence-sim-out-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('cadence sim generate --out', () => {
  it('counts basket lines, not the header, on its progress bar as in its last message', async () => {
    const out = join(dir, 'baskets.csv');
    const args = ['--members', '20', '--stores', '1', '--weeks', '2', '--seed', '1', '--end', '2026-11-01'];
    const res = await runCadence({ DATA_DIR: join(dir, 'data') }, 'sim', 'generate', ...args, '--out', out);
    expect(res.code).toBe(0);
    const lines = readFileSync(out, 'utf8').trimEnd().split('\n').length - 1; // without the header
    expect(lines).toBeGreaterThan(0);
    const text = res.stdout + res.stderr;
    expect(text).toContain(`wrote ${lines} basket lines to ${out}`);
    // the bar's last state (it printed "297 lines" above "wrote 296 basket lines")
    const bars = [...text.matchAll(/\b([\d,]+) lines /g)].map((m) => Number(m[1]!.replace(/,/g, '')));
    expect(bars.at(-1)).toBe(lines);
  });
});
