import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCadence, useProcessDatabase } from '../support/cli.ts';
import { generateChain, type SimOptions } from '../../src/sim/index.ts';
import { pageCount } from '../lists/decode.ts';

const { dir, env } = useProcessDatabase('cadence-analyse-');
const SIM: SimOptions = { seed: 11, members: 120, stores: 2, weeks: 26, endDate: '2026-10-31' };

beforeAll(async () => {
  const loaded = await cadence(
    'sim', 'generate', '--members', String(SIM.members), '--stores', String(SIM.stores),
    '--weeks', String(SIM.weeks), '--seed', String(SIM.seed), '--end', SIM.endDate!,
  );
  expect(loaded.code, loaded.stderr).toBe(0);
}, 180_000);

const cadence = (...args: string[]) => runCadence({ CHAIN_TIME_ZONE: 'America/New_York', ...env() }, ...args);

describe('cadence analyse and predict', () => {
  it('analyses as of a date and reports what it computed', async () => {
    const res = await cadence('analyse', '--at', '2026-10-31');
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain('analysed as of 2026-10-31T04:00:00.000Z');
    expect(res.stdout).toMatch(/members 120, qualified \d+/);
    expect(res.stdout).toMatch(/next-basket scores: [1-9]\d* rows/);
  }, 120_000);

  it('exports each member\'s top products using only the history before the date', async () => {
    const out = join(dir, 'predictions.csv');
    const at = '2026-09-15';
    const res = await cadence('predict', '--at', at, '--top', '5', '--out', out);
    expect(res.code, res.stderr).toBe(0);
    const [header, ...lines] = readFileSync(out, 'utf8').trim().split('\n');
    expect(header).toBe('member_id,gtin,rank,score,predicted_date,prob_14d');
    expect(lines.length).toBeGreaterThan(100);

    // What each member had bought before the date, straight from the generator.
    const chain = generateChain(SIM);
    const numberOf = new Map([...chain.members()].map((m) => [m.cardNumber, m.memberNumber]));
    const cutoff = Date.parse('2026-09-15T04:00:00Z');
    const boughtBefore = new Set<string>();
    const boughtAfter = new Set<string>();
    for (const l of chain.basketLines()) {
      const key = `${numberOf.get(l.card)},${l.gtin.padStart(14, '0')}`;
      (Date.parse(l.ts) < cutoff ? boughtBefore : boughtAfter).add(key);
    }
    const ranks = new Map<string, number[]>();
    for (const line of lines) {
      const [member, gtin, rank, score, date, prob] = line.split(',');
      expect(boughtBefore.has(`${member},${gtin!.padStart(14, '0')}`), line).toBe(true);
      expect(date! >= at, line).toBe(true);
      expect(Number(prob)).toBeGreaterThanOrEqual(0);
      expect(Number(prob)).toBeLessThanOrEqual(1);
      expect(Number.isFinite(Number(score))).toBe(true);
      ranks.set(member!, [...(ranks.get(member!) ?? []), Number(rank)]);
    }
    for (const [member, r] of ranks) expect(r, member).toEqual(r.map((_, i) => i + 1).slice(0, 5));
    // Products bought only after the date never leak into the export.
    const leaked = lines.filter((l) => {
      const [m, g] = l.split(',');
      const key = `${m},${g!.padStart(14, '0')}`;
      return boughtAfter.has(key) && !boughtBefore.has(key);
    });
    expect(leaked).toEqual([]);
  }, 120_000);

  it('builds a list period once and prints a store batch PDF', async () => {
    const run1 = await cadence('lists', 'run', '--period', '2026-11-02');
    expect(run1.code, run1.stderr).toBe(0);
    const m = /period 2026-11-02 – 2026-11-15: (\d+) lists, (\d+) offers, (\d+) held out/.exec(run1.stdout);
    expect(m, run1.stdout).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(20);
    expect(run1.stdout).toMatch(/analgesic-store-brand: \d+ candidates/);
    const run2 = await cadence('lists', 'run', '--period', '2026-11-02');
    expect(run2.stdout).toContain(`was built already: ${m![1]} lists, ${m![2]} offers (nothing added`);
    const out = join(dir, 'store1.pdf');
    const print = await cadence('lists', 'print', '--store', '1', '--period', '2026-11-02', '--out', out, '--paper', 'a4');
    expect(print.code, print.stderr).toBe(0);
    expect(print.stdout + print.stderr).toMatch(/wrote \d+ lists of store 1/);
    const pdf = readFileSync(out);
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    expect(pageCount(new Uint8Array(pdf))).toBeGreaterThanOrEqual(Number(/wrote (\d+) lists/.exec(print.stdout + print.stderr)![1]));
    const none = await cadence('lists', 'print', '--store', '1', '--period', '2026-12-28', '--out', out);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('no lists for store 1');
    const bad = await cadence('lists', 'run', '--period', '2026-11-31');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('periodStart');
  }, 180_000);

  it('names the missing or bad flag', async () => {
    const out = join(dir, 'x.csv');
    const cases: [string[], string][] = [
      [['predict', '--out', out], '--at DATE is required'],
      [['predict', '--at', '2026-13-01', '--out', out], '--at must be a date'],
      [['predict', '--at', '2026-09-15'], '--out FILE.csv'],
      // Dates the database cannot hold, and an analysis after the end of history (now), are refused.
      [['predict', '--at', '1899-12-31', '--out', out], '--at must lie between 1900-01-01 and 9999-01-01'],
      [['analyse', '--at', '2999-01-01'], '--at must not be after now'],
    ];
    for (const [args, message] of cases) {
      const res = await cadence(...args);
      expect(res.code, args.join(' ')).toBe(1);
      expect(res.stderr, args.join(' ')).toContain(message);
    }
  }, 60_000);
});
