import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { csvChunks, generateChain, type SimOptions } from '../../src/sim/index.ts';

// Exact equality throughout: determinism has no tolerance.
const OPTIONS: SimOptions = { seed: 1, members: 300, stores: 8, weeks: 26, endDate: '2026-02-28' };

function sha256(lines: Iterable<string>): string {
  const hash = createHash('sha256');
  for (const chunk of csvChunks(lines)) hash.update(chunk);
  return hash.digest('hex');
}

function hashes(opts: SimOptions) {
  const chain = generateChain(opts);
  return {
    baskets: sha256(chain.basketsCsv()),
    members: sha256(chain.membersCsv()),
    products: sha256(chain.productsCsv()),
  };
}

/** Pulls lines through the iterator protocol in batches of `size`, as a paged consumer would. */
function inBatches(lines: Iterable<string>, size: number): string[] {
  const it = lines[Symbol.iterator]();
  const out: string[] = [];
  for (;;) {
    const batch: string[] = [];
    let r = it.next();
    while (!r.done) {
      batch.push(r.value);
      if (batch.length === size) break;
      r = it.next();
    }
    out.push(...batch);
    if (r.done) return out;
  }
}

describe('simulator determinism', () => {
  it('gives the same CSV for the same options, twice', () => {
    const a = hashes(OPTIONS);
    const b = hashes(OPTIONS);
    expect(b).toEqual(a);
  });

  it('gives different data for a different seed', () => {
    const a = hashes(OPTIONS);
    const b = hashes({ ...OPTIONS, seed: 2 });
    expect(b.baskets).not.toBe(a.baskets);
    expect(b.members).not.toBe(a.members);
    expect(b.products).not.toBe(a.products);
  });

  it('does not depend on how the stream is consumed or split by member', () => {
    const chain = generateChain(OPTIONS);
    const whole = [...chain.basketsCsv()];
    expect(inBatches(chain.basketsCsv(), 7)).toEqual(whole);
    expect(inBatches(chain.basketsCsv(), 1000)).toEqual(whole);
    // Shards generated independently (as parallel workers would) concatenate to the whole.
    const shards = [
      ...chain.basketsCsv({ to: 1 }),
      ...chain.basketsCsv({ from: 1, to: 137, header: false }),
      ...chain.basketsCsv({ from: 137, header: false }),
    ];
    expect(shards).toEqual(whole);
    // Two passes over different ranges of one chain, interleaved, still agree with the whole.
    const late = chain.basketsCsv({ from: 250, header: false })[Symbol.iterator]();
    const firstLate = late.next().value as string;
    const early = [...chain.basketsCsv({ to: 250 })];
    const rest: string[] = [];
    for (let r = late.next(); !r.done; r = late.next()) rest.push(r.value);
    expect([...early, firstLate, ...rest]).toEqual(whole);
    expect([...csvChunks(whole, 4096)].join('')).toBe(whole.join('\n') + '\n');
  });

  it('regenerates one member alone exactly as in the stream', () => {
    const chain = generateChain(OPTIONS);
    const fromStream = [...chain.members()][42];
    expect(chain.member(42)).toEqual(fromStream);
    const visits = [...chain.visits({ from: 42, to: 43 })];
    const sim = chain.simulator(42);
    const again = [];
    for (let v = sim.nextVisit(chain.lastDay); v; v = sim.nextVisit(chain.lastDay)) again.push(v);
    expect(again).toEqual(visits);
  });

  it('writes well-formed, chronological baskets with adjacent lines and unique transactions', () => {
    const chain = generateChain(OPTIONS);
    const lines = [...chain.basketsCsv()];
    expect(lines[0]).toBe(
      'card,txn,ts,store_id,terminal_id,gtin,qty,unit_price_cents,line_discount_cents',
    );
    const shape =
      /^(\d{12}),(\d+),(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}),([1-8]),(T0[1-8]),(\d{13}),[1-9]\d*,[1-9]\d*,0$/;
    const gtins = new Set(chain.products.map((p) => p.gtin));
    const problems: string[] = [];
    const finished = new Set<string>();
    const tsOfTxn = new Map<string, string>();
    const lastTsOfCard = new Map<string, string>();
    let currentTxn = '';
    for (const line of lines.slice(1)) {
      const m = shape.exec(line);
      if (!m || !gtins.has(m[6] as string)) {
        problems.push(`malformed: ${line}`);
        continue;
      }
      const [, card, txn, ts] = m as unknown as [string, string, string, string];
      if (txn === currentTxn) {
        if (ts !== tsOfTxn.get(txn)) problems.push(`two timestamps in ${txn}`);
        continue;
      }
      // A transaction never reappears once another has started: its lines are adjacent.
      if (finished.has(txn)) problems.push(`txn ${txn} split`);
      if (currentTxn) finished.add(currentTxn);
      currentTxn = txn;
      tsOfTxn.set(txn, ts);
      // Instants compare as instants, not strings, across DST offset changes.
      const last = lastTsOfCard.get(card);
      if (last && Date.parse(ts) <= Date.parse(last)) problems.push(`not chronological: ${ts}`);
      lastTsOfCard.set(card, ts);
    }
    expect(problems.slice(0, 5)).toEqual([]);
    expect(tsOfTxn.size).toBeGreaterThan(300 * 10);
    const dates = [...tsOfTxn.values()].map((ts) => ts.slice(0, 10)).sort();
    expect(dates[0]! >= chain.startDate).toBe(true);
    expect(dates[dates.length - 1]! <= chain.endDate).toBe(true);
  });
});
