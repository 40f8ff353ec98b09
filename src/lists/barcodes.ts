import * as bwip from 'bwip-js/generic';
import { gtinCheckDigit } from '../lib/gtin.ts';

/**
 * Barcodes on a shopping list: what each one carries, how its check characters are computed, how a
 * checkout parses what a scanner read, and the symbol geometry (as vector bars) that pdf.ts draws.
 * No runtime imports: bwip-js's generic build encodes, and the geometry comes from its drawing API.
 *
 * 1. List barcode (Code 128): `L` + list serial + one check character.
 *    The serial is 6–20 characters of 0-9 A-Z. The check character is ISO/IEC 7064 MOD 37-36, the
 *    hybrid system over the 36 characters 0-9 A-Z (the one GRid and ISAN use):
 *        p₀ = 36;  for each character value cᵢ (0-9 → 0–9, A-Z → 10–35):
 *            s = (pᵢ + cᵢ) mod 36, with s = 36 when it is 0;   pᵢ₊₁ = (2·s) mod 37
 *        check value a = (37 − pₙ) mod 36, so that (pₙ + a) mod 36 = 1.
 *    It catches every single-character substitution; of swaps of two adjacent characters it misses
 *    about 1 in 630 (a hybrid system's price for a check character that is itself 0-9 A-Z; the pure
 *    MOD 37-2 catches all swaps but needs a 37th symbol, `*`). Scanning errors are caught by Code
 *    128's own mod-103 check; this character guards serials keyed in by hand at the till.
 *    The `L` prefix tells a list from a card number (digits) and from a GS1 coupon (FNC1 first).
 *
 * 2. Offer barcodes (GS1), one per offer or reward coupon, carrying the offer serial:
 *    - `gcn`: AI 255, the Global Coupon Number: 13 digits (GS1 company prefix + coupon reference +
 *      GS1 mod-10 check digit) followed by the serial component (N..12). Printed as GS1-128.
 *    - `paperless`: AI 8112, the North American paperless coupon: format code (0), funder VLI
 *      (company prefix length − 6), funder id (the company prefix, 6–12 digits), offer code (6 digits),
 *      serial VLI (serial length − 6) and serial (6–15 digits). Printed as GS1 DataBar Expanded.
 *    Offer serials are 6–12 digits, which fits both.
 *
 * 3. Card barcode (Code 128): the member's card number, as the card itself carries it.
 */

// ---------------------------------------------------------------- check characters

const ALNUM = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** ISO/IEC 7064 MOD 37-36 check character for a string of 0-9 A-Z (see the module comment). */
export function mod3736CheckChar(body: string): string {
  let p = 36;
  for (const ch of body) {
    const c = ALNUM.indexOf(ch);
    if (c < 0) throw new RangeError(`"${ch}" is not 0-9 or A-Z`);
    let s = (p + c) % 36;
    if (s === 0) s = 36;
    p = (2 * s) % 37;
  }
  return ALNUM[(37 - p) % 36]!;
}

/** GS1 mod-10 check digit (weights 3,1,3,1… from the right) of a digit string without it. */
export function gs1CheckDigit(digits: string): number {
  if (!/^\d+$/.test(digits)) throw new RangeError('GS1 check digits are computed over digits only');
  return gtinCheckDigit(digits);
}

// ---------------------------------------------------------------- list barcode

export const LIST_BARCODE_PREFIX = 'L';
export const LIST_SERIAL_PATTERN = /^[0-9A-Z]{6,20}$/;

/** The text of a list barcode: `L` + serial + MOD 37-36 check character. */
export function encodeListBarcode(serial: string): string {
  if (!LIST_SERIAL_PATTERN.test(serial)) {
    throw new RangeError(`a list serial is 6–20 characters 0-9 A-Z, not "${serial}"`);
  }
  return `${LIST_BARCODE_PREFIX}${serial}${mod3736CheckChar(serial)}`;
}

export type ListBarcodeParse = { ok: true; serial: string } | { ok: false; reason: string };

/**
 * Parses what a scanner read from a list barcode. Accepts a leading Code 128 symbology identifier
 * (`]C0`) and surrounding whitespace, nothing else; rejects a wrong check character.
 */
export function parseListBarcode(scanned: string): ListBarcodeParse {
  let text = scanned.trim();
  if (text.startsWith(']C0')) text = text.slice(3);
  if (!text.startsWith(LIST_BARCODE_PREFIX)) return { ok: false, reason: 'not a list barcode' };
  const serial = text.slice(1, -1);
  const check = text.slice(-1);
  if (!LIST_SERIAL_PATTERN.test(serial) || !/^[0-9A-Z]$/.test(check)) {
    return { ok: false, reason: 'not a list barcode' };
  }
  const expected = mod3736CheckChar(serial);
  if (check !== expected) return { ok: false, reason: `bad check character "${check}"` };
  return { ok: true, serial };
}

export function verifyListBarcode(scanned: string): boolean {
  return parseListBarcode(scanned).ok;
}

// ---------------------------------------------------------------- GS1 coupons

export const OFFER_SERIAL_PATTERN = /^\d{6,12}$/;

/** The coupon an offer belongs to; the offer's own serial is added per printed barcode. */
export type GS1Coupon =
  | { scheme: 'gcn'; companyPrefix: string; couponReference: string }
  | { scheme: 'paperless'; companyPrefix: string; offerCode: string };

/** One GS1 element string: AI and data; `hri` is the human-readable `(AI)data` form. */
export interface ElementString {
  ai: '255' | '8112';
  data: string;
  hri: string;
}

/** The 13-digit Global Coupon Number: company prefix + coupon reference + computed check digit. */
export function globalCouponNumber(companyPrefix: string, couponReference: string): string {
  if (!/^\d{6,12}$/.test(companyPrefix)) throw new RangeError('a GS1 company prefix is 6–12 digits');
  const refLength = 12 - companyPrefix.length;
  if (!/^\d*$/.test(couponReference) || couponReference.length > refLength) {
    throw new RangeError(`with a ${companyPrefix.length}-digit prefix the coupon reference is up to ${refLength} digits`);
  }
  const body = companyPrefix + couponReference.padStart(refLength, '0');
  return body + gs1CheckDigit(body);
}

/** The element string an offer's barcode carries. Throws on malformed ids or serials. */
export function offerElementString(coupon: GS1Coupon, serial: string): ElementString {
  if (!OFFER_SERIAL_PATTERN.test(serial)) throw new RangeError(`an offer serial is 6–12 digits, not "${serial}"`);
  if (coupon.scheme === 'gcn') {
    const data = globalCouponNumber(coupon.companyPrefix, coupon.couponReference) + serial;
    return { ai: '255', data, hri: `(255)${data}` };
  }
  if (!/^\d{6,12}$/.test(coupon.companyPrefix)) throw new RangeError('a GS1 company prefix is 6–12 digits');
  if (!/^\d{6}$/.test(coupon.offerCode)) throw new RangeError('a paperless offer code is 6 digits');
  const data = `0${coupon.companyPrefix.length - 6}${coupon.companyPrefix}${coupon.offerCode}${serial.length - 6}${serial}`;
  return { ai: '8112', data, hri: `(8112)${data}` };
}

/** A scanned offer barcode, parsed. */
export type OfferScan =
  | { ok: true; ai: '255'; gcn: string; serial: string }
  | { ok: true; ai: '8112'; companyPrefix: string; offerCode: string; serial: string }
  | { ok: false; reason: string };

const GS = '\u001d';

/**
 * Parses a scanned GS1 offer barcode as scanners and decoders report it: with or without a
 * symbology identifier (`]C1` GS1-128, `]e0` DataBar), either as the human-readable form with
 * parentheses or as the raw element string (FNC1 sent as GS, 0x1D). Verifies the GCN check digit
 * and the paperless coupon's length indicators. The GCN itself does not say where its company
 * prefix ends, so AI 255 returns the 13-digit GCN and the checkout matches it as a whole.
 */
export function parseOfferBarcode(scanned: string): OfferScan {
  let text = scanned.replace(/^\s+|[\r\n\s]+$/g, '');
  if (/^\][A-Za-z][0-9A-Za-z]/.test(text)) text = text.slice(3);
  text = text.replace(/^\u001d+/, '');
  let ai: string;
  let data: string;
  const hri = /^\((\d{2,4})\)(.*)$/.exec(text);
  if (hri) {
    ai = hri[1]!;
    data = hri[2]!;
    if (data.includes('(')) return { ok: false, reason: 'more than one element string' };
  } else {
    if (text.includes(GS)) return { ok: false, reason: 'more than one element string' };
    if (text.startsWith('255')) ai = '255';
    else if (text.startsWith('8112')) ai = '8112';
    else return { ok: false, reason: 'not an AI 255 or AI 8112 coupon' };
    data = text.slice(ai.length);
  }
  if (ai === '255') {
    const m = /^(\d{13})(\d{0,12})$/.exec(data);
    if (!m) return { ok: false, reason: 'AI 255 carries 13 digits and a serial of up to 12' };
    const gcn = m[1]!;
    if (gs1CheckDigit(gcn.slice(0, 12)) !== Number(gcn[12])) {
      return { ok: false, reason: 'bad GCN check digit' };
    }
    if (!OFFER_SERIAL_PATTERN.test(m[2]!)) return { ok: false, reason: 'no offer serial' };
    return { ok: true, ai: '255', gcn, serial: m[2]! };
  }
  if (ai === '8112') {
    const m = /^0(\d)(\d+)$/.exec(data);
    if (!m) return { ok: false, reason: 'AI 8112 starts with format code 0 and a funder VLI' };
    const prefixLength = Number(m[1]) + 6;
    if (prefixLength > 12) return { ok: false, reason: 'funder VLI must be 0–6' };
    const rest = m[2]!;
    const companyPrefix = rest.slice(0, prefixLength);
    const offerCode = rest.slice(prefixLength, prefixLength + 6);
    const snVli = rest.slice(prefixLength + 6, prefixLength + 7);
    const serial = rest.slice(prefixLength + 7);
    if (offerCode.length !== 6 || snVli === '') return { ok: false, reason: 'AI 8112 is truncated' };
    if (serial.length !== Number(snVli) + 6) return { ok: false, reason: 'serial length does not match its VLI' };
    if (!OFFER_SERIAL_PATTERN.test(serial)) return { ok: false, reason: 'no offer serial' };
    return { ok: true, ai: '8112', companyPrefix, offerCode, serial };
  }
  return { ok: false, reason: `AI ${ai} is not a coupon` };
}

// ---------------------------------------------------------------- symbols

export type Symbology = 'code128' | 'gs1-128' | 'databar-expanded';

/** What to draw: the symbology, the encoder's input, and the human-readable line under it. */
export interface BarcodeSpec {
  symbology: Symbology;
  /** bwip-js input text (GS1 symbologies take the `(AI)data` form). */
  text: string;
  /** Human-readable interpretation printed under the bars. */
  hri: string;
}

export function listBarcode(serial: string): BarcodeSpec {
  const text = encodeListBarcode(serial);
  return { symbology: 'code128', text, hri: text };
}

export function cardBarcode(cardNumber: string): BarcodeSpec {
  if (!/^[0-9A-Za-z]{4,40}$/.test(cardNumber)) throw new RangeError('a card number is 4–40 letters or digits');
  return { symbology: 'code128', text: cardNumber, hri: cardNumber };
}

/** GCN coupons print as GS1-128, paperless coupons as DataBar Expanded, unless told otherwise. */
export function offerBarcode(coupon: GS1Coupon, serial: string, symbology?: Exclude<Symbology, 'code128'>): BarcodeSpec {
  const element = offerElementString(coupon, serial);
  return {
    symbology: symbology ?? (coupon.scheme === 'gcn' ? 'gs1-128' : 'databar-expanded'),
    text: element.hri,
    hri: element.hri,
  };
}

const BCID: Record<Symbology, string> = {
  code128: 'code128',
  'gs1-128': 'gs1-128',
  'databar-expanded': 'databarexpanded',
};

/**
 * A barcode as filled rectangles, in modules: x and width count narrow modules from the symbol's
 * left edge, y and height are shares of the bar height (0 = top). Quiet zones are not included.
 */
export interface VectorBarcode {
  widthModules: number;
  /** x, y, width, height per bar, flattened. */
  bars: number[];
}

/**
 * Draws `spec` through bwip-js's drawing API at one pixel per module and keeps each bar as a
 * rectangle. bwip-js strokes a bar of width w centred at x as [x − ⌈w/2⌉, x − ⌈w/2⌉ + w].
 */
export function vectorBarcode(spec: BarcodeSpec): VectorBarcode {
  let width = 0;
  let height = 1;
  const bars: number[] = [];
  const drawing: bwip.DrawingContext<VectorBarcode> = {
    scale: () => null,
    measure: () => ({ width: 0, ascent: 0, descent: 0 }),
    init(w, h) {
      width = w;
      height = h;
    },
    line(x0, y0, x1, y1, lw) {
      if (x0 === x1) {
        const top = Math.min(y0, y1);
        bars.push(x0 - Math.ceil(lw / 2), top / height, lw, (Math.max(y0, y1) - top) / height);
      } else {
        const left = Math.min(x0, x1);
        bars.push(left, (y0 - Math.ceil(lw / 2)) / height, Math.max(x0, x1) - left, lw / height);
      }
    },
    polygon(pts) {
      // Linear symbols only stroke lines; a polygon here is an axis-aligned rectangle.
      const xs = pts.map((p) => p[0]);
      const ys = pts.map((p) => p[1]);
      const x = Math.min(...xs);
      const y = Math.min(...ys);
      bars.push(x, y / height, Math.max(...xs) - x, (Math.max(...ys) - y) / height);
    },
    hexagon() {
      throw new Error('2D symbols are not used on lists');
    },
    ellipse() {
      throw new Error('2D symbols are not used on lists');
    },
    fill() {},
    text() {},
    end: () => ({ widthModules: width, bars }),
  };
  return bwip.render({ bcid: BCID[spec.symbology], text: spec.text, scale: 1, height: 10, includetext: false }, drawing);
}

/** The same symbol as a standalone SVG (for apps and e-mail), from bwip-js's own SVG renderer. */
export function barcodeSvg(spec: BarcodeSpec): string {
  return bwip.toSVG({ bcid: BCID[spec.symbology], text: spec.text, scale: 2, height: 12, includetext: true, textxalign: 'center' });
}
