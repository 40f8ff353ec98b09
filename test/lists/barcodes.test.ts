import { describe, expect, it } from 'vitest';
import {
  encodeListBarcode,
  globalCouponNumber,
  gs1CheckDigit,
  mod3736CheckChar,
  offerBarcode,
  offerElementString,
  parseListBarcode,
  parseOfferBarcode,
  verifyListBarcode,
  vectorBarcode,
} from '../../src/lists/barcodes.ts';

const ALNUM = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** Deterministic pseudo-random serials (no Math.random in tests either: failures must replay). */
function serials(count: number, seed = 7): string[] {
  let x = seed;
  const next = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
  return Array.from({ length: count }, () => {
    const len = 6 + (next() % 15);
    return Array.from({ length: len }, () => ALNUM[next() % 36]).join('');
  });
}

describe('GS1 mod-10 check digit', () => {
  // Published examples: EAN-13 and UPC-A from their standards' worked examples, the GS1 General
  // Specifications' check digit calculation example (GTIN-13) and its SSCC example.
  it.each([
    ['4006381333931', 'EAN-13'],
    ['036000291452', 'UPC-A'],
    ['6291041500213', 'GS1 General Specifications, check digit calculation'],
    ['106141412345678908', 'SSCC, GS1 example'],
  ])('%s (%s)', (full) => {
    expect(gs1CheckDigit(full.slice(0, -1))).toBe(Number(full.at(-1)));
  });

  it('refuses non-digits', () => {
    expect(() => gs1CheckDigit('12A4')).toThrow();
  });
});

describe('ISO/IEC 7064 MOD 37-36 list check character', () => {
  it('matches the published GRid example A1-2425G-ABC1234002-M', () => {
    expect(mod3736CheckChar('A12425GABC1234002')).toBe('M');
  });

  it('detects every single substitution, and adjacent transpositions but for about 1 in 630', () => {
    let swaps = 0;
    let missed = 0;
    for (const serial of serials(60)) {
      const barcode = encodeListBarcode(serial);
      expect(verifyListBarcode(barcode)).toBe(true);
      const body = barcode.slice(1);
      for (let i = 0; i < body.length; i++) {
        for (const c of ALNUM) {
          if (c === body[i]) continue;
          const bad = `L${body.slice(0, i)}${c}${body.slice(i + 1)}`;
          expect(verifyListBarcode(bad), bad).toBe(false);
        }
        if (i + 1 < body.length && body[i] !== body[i + 1]) {
          swaps++;
          if (verifyListBarcode(`L${body.slice(0, i)}${body[i + 1]}${body[i]}${body.slice(i + 2)}`)) missed++;
        }
      }
    }
    // Exhaustively over three free characters the hybrid system misses 72 of 45,360 swaps (1/630).
    expect(swaps).toBeGreaterThan(500);
    expect(missed / swaps).toBeLessThan(1 / 100);
  });
});

describe('list barcode', () => {
  it('round-trips through parse, with or without a symbology identifier', () => {
    const text = encodeListBarcode('K7Q2M4X9');
    expect(text).toMatch(/^LK7Q2M4X9[0-9A-Z]$/);
    expect(parseListBarcode(text)).toEqual({ ok: true, serial: 'K7Q2M4X9' });
    expect(parseListBarcode(`]C0${text}\r\n`)).toEqual({ ok: true, serial: 'K7Q2M4X9' });
  });

  it('rejects a corrupted check character with a reason', () => {
    const text = encodeListBarcode('K7Q2M4X9');
    const wrong = ALNUM.replace(text.at(-1)!, '');
    for (const c of wrong) {
      const result = parseListBarcode(text.slice(0, -1) + c);
      expect(result).toEqual({ ok: false, reason: `bad check character "${c}"` });
    }
  });

  it('rejects what is not a list barcode', () => {
    for (const scanned of ['612345678904', '(255)0614141000418123456', 'Lab12345X', 'L12345', '']) {
      expect(parseListBarcode(scanned).ok, scanned).toBe(false);
    }
    expect(() => encodeListBarcode('short')).toThrow();
    expect(() => encodeListBarcode('lowercase1')).toThrow();
  });
});

describe('GS1 coupon element strings', () => {
  it('builds the 13-digit GCN with its check digit, padding the coupon reference', () => {
    const gcn = globalCouponNumber('0614141', '42');
    expect(gcn.slice(0, 12)).toBe('061414100042');
    expect(gcn).toHaveLength(13);
    expect(Number(gcn[12])).toBe(gs1CheckDigit('061414100042'));
    expect(() => globalCouponNumber('0614141', '1234567')).toThrow();
  });

  it('AI 255 carries GCN + serial; AI 8112 carries VLIs, funder, offer code and serial', () => {
    const gcn = offerElementString({ scheme: 'gcn', companyPrefix: '0614141', couponReference: '12345' }, '000123456');
    expect(gcn).toEqual({ ai: '255', data: `${globalCouponNumber('0614141', '12345')}000123456`, hri: `(255)${globalCouponNumber('0614141', '12345')}000123456` });
    const paperless = offerElementString({ scheme: 'paperless', companyPrefix: '012345678', offerCode: '100200' }, '1234567890');
    // format 0, funder VLI 9-6=3, funder, offer code, serial VLI 10-6=4, serial
    expect(paperless.data).toBe('0' + '3' + '012345678' + '100200' + '4' + '1234567890');
  });

  it('bwip-js refuses a GCN whose check digit is wrong, so computing it matters', () => {
    const good = offerElementString({ scheme: 'gcn', companyPrefix: '0614141', couponReference: '12345' }, '000123456');
    const badDigit = (Number(good.data[12]) + 1) % 10;
    const bad = `(255)${good.data.slice(0, 12)}${badDigit}${good.data.slice(13)}`;
    expect(() => vectorBarcode({ symbology: 'gs1-128', text: bad, hri: bad })).toThrow();
    expect(vectorBarcode({ symbology: 'gs1-128', text: good.hri, hri: good.hri }).bars.length).toBeGreaterThan(20);
  });

  it('parses scanned offer barcodes in the forms decoders report', () => {
    const gcn = globalCouponNumber('0614141', '12345');
    const expected255 = { ok: true, ai: '255', gcn, serial: '000123456' };
    expect(parseOfferBarcode(`(255)${gcn}000123456`)).toEqual(expected255); // ZXing HRI
    expect(parseOfferBarcode(`]C1255${gcn}000123456`)).toEqual(expected255); // scanner with AIM id
    expect(parseOfferBarcode(`255${gcn}000123456\n`)).toEqual(expected255); // zbarimg
    const expected8112 = { ok: true, ai: '8112', companyPrefix: '012345678', offerCode: '100200', serial: '1234567890' };
    expect(parseOfferBarcode('(8112)030123456781002004' + '1234567890')).toEqual(expected8112);
    expect(parseOfferBarcode(']e08112030123456781002004' + '1234567890')).toEqual(expected8112);
  });

  it('rejects bad check digits, bad VLIs, several element strings and other AIs', () => {
    const gcn = globalCouponNumber('0614141', '12345');
    const wrong = `${gcn.slice(0, 12)}${(Number(gcn[12]) + 5) % 10}`;
    expect(parseOfferBarcode(`(255)${wrong}000123456`)).toEqual({ ok: false, reason: 'bad GCN check digit' });
    expect(parseOfferBarcode('(8112)0301234567810020051234567890').ok).toBe(false); // says 11-digit serial
    expect(parseOfferBarcode('(8112)0701234567810020041234567890').ok).toBe(false); // funder VLI 7
    expect(parseOfferBarcode(`]C1255${gcn}000123456\u001d3103000150`).ok).toBe(false);
    expect(parseOfferBarcode('(01)09501101530008').ok).toBe(false);
    expect(parseOfferBarcode(`(255)${gcn}`).ok).toBe(false); // no serial
  });

  it('prints GCN coupons as GS1-128 and paperless ones as DataBar Expanded', () => {
    expect(offerBarcode({ scheme: 'gcn', companyPrefix: '0614141', couponReference: '1' }, '123456').symbology).toBe('gs1-128');
    expect(offerBarcode({ scheme: 'paperless', companyPrefix: '0614141', offerCode: '000001' }, '123456').symbology).toBe('databar-expanded');
  });
});
