import { describe, expect, it } from 'vitest';
import { Basket, fastBasket, parseBasket } from '../../src/ingest/schemas.ts';

const valid = {
  storeId: 3,
  terminalId: 'T02',
  txnId: 'x-1',
  ts: '2026-11-24T10:15:00-05:00',
  cardNumber: '400000000042',
  lines: [
    { gtin: '4006381333931', qty: 2, unitPriceCents: 349, lineDiscountCents: 50 },
    { gtin: '96385074', qty: 0.125, unitPriceCents: 0 },
  ],
};

/** One change a test case makes to a copy of `valid`. */
type Change = (b: Record<string, any>) => void;
const changes: Record<string, Change> = {
  'as is': () => {},
  'no card key': (b) => delete b.cardNumber,
  'null card': (b) => (b.cardNumber = null),
  'short card': (b) => (b.cardNumber = '123'),
  'card with a dash': (b) => (b.cardNumber = '1234-5678'),
  'unknown basket key': (b) => (b.extra = 1),
  'unknown line key': (b) => (b.lines[0].note = 'x'),
  'store 0': (b) => (b.storeId = 0),
  'store 1.5': (b) => (b.storeId = 1.5),
  'store as text': (b) => (b.storeId = '3'),
  'empty terminal': (b) => (b.terminalId = ''),
  'terminal of 41': (b) => (b.terminalId = 'T'.repeat(41)),
  'txn of 80': (b) => (b.txnId = 't'.repeat(80)),
  'txn of 81': (b) => (b.txnId = 't'.repeat(81)),
  'ts without offset': (b) => (b.ts = '2026-11-24T10:15:00'),
  'ts in Z with fraction': (b) => (b.ts = '2026-11-24T10:15:00.123456Z'),
  'ts not a day': (b) => (b.ts = '2026-02-30T10:15:00Z'),
  'no lines': (b) => (b.lines = []),
  'lines not an array': (b) => (b.lines = {}),
  'bad check digit': (b) => (b.lines[0].gtin = '4006381333932'),
  'GTIN-12': (b) => (b.lines[0].gtin = '036000291452'),
  'GTIN as number': (b) => (b.lines[0].gtin = 4006381333931),
  'qty 0': (b) => (b.lines[0].qty = 0),
  'qty 4 decimals': (b) => (b.lines[0].qty = 0.0005),
  'qty float noise': (b) => (b.lines[0].qty = 0.1 + 0.2),
  'qty too large': (b) => (b.lines[0].qty = 100_001),
  'negative price': (b) => (b.lines[0].unitPriceCents = -1),
  'price 1.5': (b) => (b.lines[0].unitPriceCents = 1.5),
  'no price': (b) => delete b.lines[0].unitPriceCents,
  'null discount': (b) => (b.lines[0].lineDiscountCents = null),
  'line null': (b) => (b.lines[1] = null),
  'basket an array': (b) => (b.lines = [[]]),
};

describe('the fast path of Basket', () => {
  it.each(Object.entries(changes))('agrees with the zod schema: %s', (_, change) => {
    const input = structuredClone(valid) as Record<string, any>;
    change(input);
    const zod = Basket.safeParse(structuredClone(input));
    const fast = fastBasket(structuredClone(input));
    // The fast path may decline a valid basket (zod then decides), never accept an invalid one.
    if (fast !== null) expect(zod).toEqual({ success: true, data: fast });
    expect(parseBasket(input).success).toBe(zod.success);
    if (zod.success) expect(parseBasket(input)).toEqual({ success: true, data: zod.data });
  });

  it('agrees with the zod schema on 2,000 seeded combinations of up to four changes', () => {
    const names = Object.keys(changes);
    let state = 0x5eed;
    const next = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) % 2 ** 16) / 2 ** 16;
    let accepted = 0;
    for (let i = 0; i < 2000; i++) {
      const input = structuredClone(valid) as Record<string, any>;
      const picked = Array.from({ length: 1 + Math.floor(next() * 4) }, () => names[Math.floor(next() * names.length)]!);
      for (const name of picked) {
        try {
          changes[name]!(input);
        } catch {
          // a change that no longer applies (the line it edits was replaced): the input stays as it is
        }
      }
      const zod = Basket.safeParse(structuredClone(input));
      const fast = fastBasket(structuredClone(input));
      if (fast !== null) {
        accepted++;
        expect(zod, picked.join(' + ')).toEqual({ success: true, data: fast });
      }
      expect(parseBasket(input).success, picked.join(' + ')).toBe(zod.success);
    }
    expect(accepted).toBeGreaterThan(100);
  });

  it('takes the fast path for an ordinary basket', () => {
    expect(fastBasket(structuredClone(valid))).not.toBeNull();
  });
});
