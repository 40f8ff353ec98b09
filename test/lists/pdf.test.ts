import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseListBarcode, parseOfferBarcode } from '../../src/lists/barcodes.ts';
import { ListDocument, ListDocumentJson, listDocumentJson, type ListDocumentInput } from '../../src/lists/document.ts';
import { renderListPdf, renderPrintBatch, type Paper } from '../../src/lists/pdf.ts';
import { decode, hasPopplerAndZbar, pageCount, pageLines, pageSizes, pageTexts, rasterize, zbarDecodePdf } from './decode.ts';
import { loadListFonts } from '../../src/lists/node.ts';
import { nonLatin, nonLatinList, sampleList } from './fixtures.ts';

/*
 * Every barcode on a rendered list is read back by decoders that share no code with ours (MuPDF
 * rasterizes, ZXing-C++ decodes; zbar too when installed), and what they read is compared with
 * element strings built here from the document with this file's own check-digit code.
 */

const DPI = 200;

function mod10(digits: string): string {
  let sum = 0;
  [...digits].reverse().forEach((d, i) => (sum += Number(d) * (i % 2 === 0 ? 3 : 1)));
  return String((10 - (sum % 10)) % 10);
}

/** ISO/IEC 7064 MOD 37-36, written from the standard's recursive definition. */
function mod3736(s: string): string {
  const chars = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  let product = 36;
  for (const ch of s) {
    const sum = (product + chars.indexOf(ch)) % 36 || 36;
    product = (sum * 2) % 37;
  }
  return chars[(37 - product) % 36]!;
}

type Coupon = ListDocumentInput['offers'][number];

/** [ZXing HRI text, zbar raw text] of a coupon's barcode. */
function couponTexts(c: Pick<Coupon, 'coupon' | 'serial'>): { hri: string; raw: string; format: string } {
  if (c.coupon.scheme === 'gcn') {
    const body = c.coupon.companyPrefix + c.coupon.couponReference.padStart(12 - c.coupon.companyPrefix.length, '0');
    const data = body + mod10(body) + c.serial;
    return { hri: `(255)${data}`, raw: `255${data}`, format: 'Code128' };
  }
  const p = c.coupon.companyPrefix;
  const data = `0${p.length - 6}${p}${c.coupon.offerCode}${c.serial.length - 6}${c.serial}`;
  return { hri: `(8112)${data}`, raw: `8112${data}`, format: 'DataBarExp' };
}

/** Every symbol the list must carry, as ZXing reports it ("format text"). */
function expectedSymbols(doc: ListDocumentInput): string[] {
  const list = `Code128 L${doc.listSerial}${mod3736(doc.listSerial)}`;
  const card = doc.cardNumber ? [`Code128 ${doc.cardNumber}`] : [];
  const coupons = [...doc.offers, ...doc.rewards].map((c) => {
    const t = couponTexts(c);
    return `${t.format} ${t.hri}`;
  });
  return [list, ...card, ...coupons].sort();
}

async function decodeAll(pdf: Uint8Array, pages?: number[]) {
  const found: { page: number; format: string; text: string }[] = [];
  const rasters = rasterize(pdf, DPI, pages);
  for (const [i, r] of rasters.entries()) {
    for (const d of await decode(r)) found.push({ page: pages ? pages[i]! : i, ...d });
  }
  return found;
}

beforeAll(() => {
  // The decoders must not reach for the network (zxing-wasm would fetch its .wasm from a CDN).
  vi.stubGlobal('fetch', () => Promise.reject(new Error('no network in tests')));
});
afterAll(() => {
  vi.unstubAllGlobals();
});

describe.each([
  ['letter', 612, 792],
  ['a4', 595.28, 841.89],
] as const)('one list on %s', (paper: Paper, width, height) => {
  const doc = sampleList(42);
  let pdf: Uint8Array;
  beforeAll(async () => {
    pdf = await renderListPdf(doc, { paper });
  });

  it('has one or two pages of the right size', () => {
    const sizes = pageSizes(pdf);
    expect(sizes.length).toBeGreaterThanOrEqual(1);
    expect(sizes.length).toBeLessThanOrEqual(2);
    for (const [w, h] of sizes) {
      expect(w).toBeCloseTo(width, 0);
      expect(h).toBeCloseTo(height, 0);
    }
  });

  it(`decodes every barcode from a ${DPI}-dpi raster to what the list carries`, async () => {
    const found = await decodeAll(pdf);
    expect(found.map((f) => `${f.format} ${f.text}`).sort()).toEqual(expectedSymbols(doc));
    // and the checkout's parsers accept what was read, naming the right list and offers
    const list = found.find((f) => f.text.startsWith('L'))!;
    expect(parseListBarcode(list.text)).toEqual({ ok: true, serial: doc.listSerial });
    const serials = found.map((f) => parseOfferBarcode(f.text)).flatMap((p) => (p.ok ? [p.serial] : []));
    expect(serials.sort()).toEqual([...doc.offers, ...doc.rewards].map((o) => o.serial).sort());
  });

  it('the header barcodes are on page 1', async () => {
    const first = await decodeAll(pdf, [0]);
    expect(first.some((f) => f.text === `L${doc.listSerial}${mod3736(doc.listSerial)}`)).toBe(true);
    expect(first.some((f) => f.text === doc.cardNumber)).toBe(true);
  });

  it('reads out due items and then offers, each in the list order', () => {
    const text = pageTexts(pdf).join('\n');
    let at = -1;
    for (const item of doc.dueSoon) {
      const next = text.indexOf(item.name, at + 1);
      expect(next, item.name).toBeGreaterThan(at);
      at = next;
    }
    for (const offer of doc.offers) {
      const next = text.indexOf(offer.description, at + 1);
      expect(next, offer.description).toBeGreaterThan(at);
      at = next;
    }
    expect(text).toContain('Offer 1: $2.00 off');
    expect(text).toContain('Nov 30 – Dec 13, 2026');
    expect(text).toContain(doc.content!.title);
    expect(text).toContain('Express lane');
    expect(text).toContain(doc.store.chainName);
  });

  it.runIf(hasPopplerAndZbar)('pdftoppm + zbarimg read the same symbols', () => {
    const found = zbarDecodePdf(pdf, DPI).flat().sort();
    const expected = [
      `CODE-128:L${doc.listSerial}${mod3736(doc.listSerial)}`,
      `CODE-128:${doc.cardNumber}`,
      ...[...doc.offers, ...doc.rewards].map((c) => {
        const t = couponTexts(c);
        return `${t.format === 'Code128' ? 'CODE-128' : 'DataBar-Exp'}:${t.raw}`;
      }),
    ].sort();
    expect(found).toEqual(expected);
  });
});

describe('list layout', () => {
  it('fits a short list on one page and still carries its barcodes', async () => {
    const doc = sampleList(5, { offers: [], rewards: [], content: null, perks: [], cardNumber: null, dueSoon: sampleList(5).dueSoon.slice(0, 3).map((d) => ({ ...d, offerSerial: null })) });
    const pdf = await renderListPdf(doc, { paper: 'a4' });
    expect(pageCount(pdf)).toBe(1);
    const found = await decodeAll(pdf);
    expect(found.map((f) => `${f.format} ${f.text}`)).toEqual(expectedSymbols(doc));
  });

  it('gives a long item name and size the lines they need: they never run into the next item', async () => {
    const doc = sampleList(7);
    const name = 'Organic grass-fed whole milk with vitamin D, ultra-pasteurized, family size jug';
    const size = '1 gal (128 fl oz) plastic jug';
    doc.dueSoon[0] = { ...doc.dueSoon[0]!, name, size };
    const pdf = await renderListPdf(doc, { paper: 'letter' });
    expect(pageTexts(pdf).join(' ').replace(/\s+/g, ' ')).toContain('family size jug');
    const lines = pageLines(pdf, 0);
    const next = lines.find((l) => l.text.startsWith(doc.dueSoon[1]!.name))!;
    const first = lines.filter((l) => l.text.trim() && (name.includes(l.text.trim()) || size.includes(l.text.trim())));
    expect(first.length).toBeGreaterThan(2); // name and size wrapped
    for (const l of first) expect(l.y + l.h, l.text).toBeLessThanOrEqual(next.y + 0.5);
  });

  it('refuses an invalid document with the path of the problem', async () => {
    const doc = sampleList(6);
    doc.dueSoon[0]!.offerSerial = '999999999';
    await expect(renderListPdf(doc)).rejects.toThrow(/dueSoon/);
    const parsed = ListDocument.safeParse(doc);
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues[0]!.path).toEqual(['dueSoon', 0, 'offerSerial']);
  });
});

/** Names of the fonts a PDF's font dictionaries use, and whether any font file is embedded. */
function fontsOf(pdf: Uint8Array): { names: string[]; embedded: boolean } {
  const text = new TextDecoder('latin1').decode(pdf);
  const names = [...new Set([...text.matchAll(/\/BaseFont \/([^\s/>]+)/g)].map((m) => m[1]!.replace(/^[A-Z]{6}\+/, '')))].sort();
  return { names, embedded: /\/FontFile2/.test(text) };
}

describe('text outside Latin-1', () => {
  const fonts = loadListFonts()!;
  const doc = nonLatinList(12);
  let pdf: Uint8Array;
  beforeAll(async () => {
    expect(fonts).not.toBeNull();
    pdf = await renderListPdf(doc, { paper: 'a4', fonts });
  });

  it('prints Polish, Greek and Cyrillic as written, in DejaVu Sans beside Helvetica', () => {
    const text = pageTexts(pdf).join('\n');
    expect(text).toContain(`Hello ${nonLatin.greetingName},`);
    for (const name of nonLatin.items) expect(text).toContain(name);
    for (const size of nonLatin.sizes) expect(text).toContain(size);
    expect(text).toContain(nonLatin.offer);
    expect(text).toContain(nonLatin.contentTitle);
    expect(text).toContain('Sklep 3 – Łódź');
    // the rest stays in Helvetica
    expect(text).toContain(doc.dueSoon[6]!.name);
    expect(fontsOf(pdf)).toEqual({ names: ['DejaVuSans', 'DejaVuSans-Bold', 'Helvetica', 'Helvetica-Bold'], embedded: true });
  });

  it('prints characters DejaVu lacks (CJK) as "?", and the rest of the string', () => {
    const text = pageTexts(pdf).join('\n');
    expect(text).toContain(nonLatin.cjk.printed);
    expect(text).not.toContain('豆');
  });

  it('still carries barcodes that decode to what the list carries', async () => {
    const found = await decodeAll(pdf);
    expect(found.map((f) => `${f.format} ${f.text}`).sort()).toEqual(expectedSymbols(doc));
  });

  it('wraps a long Cyrillic name by its DejaVu widths: it never runs into the next item', async () => {
    const long = nonLatinList(13);
    const name = 'Кефир натуральный 2,5% жирности, пастеризованный, в стеклянной бутылке';
    long.dueSoon[0] = { ...long.dueSoon[0]!, name };
    const out = await renderListPdf(long, { paper: 'letter', fonts });
    expect(pageTexts(out).join(' ').replace(/\s+/g, ' ')).toContain('в стеклянной бутылке');
    const lines = pageLines(out, 0);
    const next = lines.find((l) => l.text.startsWith(long.dueSoon[1]!.name))!;
    const first = lines.filter((l) => l.text.trim() && name.includes(l.text.trim()));
    expect(first.length).toBeGreaterThan(1); // wrapped
    for (const l of first) {
      expect(l.y + l.h, l.text).toBeLessThanOrEqual(next.y + 0.5);
      expect(l.x + l.w, l.text).toBeLessThan(pageLines(out, 0).find((s) => s.text.trim() === long.dueSoon[0]!.size)!.x);
    }
  });

  it('leaves a Latin-1 list in Helvetica alone: no embedded font, the same size', async () => {
    const latin = sampleList(42); // é, –, ·, & …: all WinAnsi
    latin.greetingName = 'Zoë';
    latin.dueSoon[0] = { ...latin.dueSoon[0]!, name: 'Crème fraîche, 30 % · “Bio” – 200 g €' };
    const without = await renderListPdf(latin, { paper: 'letter' });
    const withFonts = await renderListPdf(latin, { paper: 'letter', fonts });
    expect(fontsOf(withFonts)).toEqual({ names: ['Helvetica', 'Helvetica-Bold'], embedded: false });
    expect(Math.abs(withFonts.byteLength - without.byteLength)).toBeLessThanOrEqual(16); // creation date only
    expect(pageTexts(withFonts).join('\n')).toContain('Crème fraîche, 30 % · “Bio” – 200 g €');
  });

  it('falls back to Helvetica for everything without the fonts, as before', async () => {
    const out = await renderListPdf(doc, { paper: 'a4', fonts: null });
    expect(fontsOf(out)).toEqual({ names: ['Helvetica', 'Helvetica-Bold'], embedded: false });
    expect(pageCount(out)).toBeGreaterThan(0);
  });

  it('embeds DejaVu once in a print batch of many lists', async () => {
    const lists = [nonLatinList(20), sampleList(21), nonLatinList(22)];
    const out = await readAll(renderPrintBatch(lists, { paper: 'letter', fonts }));
    const text = pageTexts(out).join('\n');
    for (const name of nonLatin.items) expect(text.split(name).length - 1).toBe(2);
    const raw = new TextDecoder('latin1').decode(out);
    expect(raw.match(/\/FontFile2/g)).toHaveLength(2); // regular and bold, shared by the lists
  });
});

describe('app JSON', () => {
  it('carries the same barcodes as the PDF, and validates as the API schema', () => {
    const doc = sampleList(7);
    const json = listDocumentJson(doc);
    expect(ListDocumentJson.parse(json)).toEqual(json);
    expect(json.listBarcode.text).toBe(`L${doc.listSerial}${mod3736(doc.listSerial)}`);
    expect(json.cardBarcode?.text).toBe(doc.cardNumber);
    expect(json.offers.map((o) => o.barcode.hri)).toEqual(doc.offers.map((o) => couponTexts(o).hri));
    expect(json.offers.map((o) => o.barcode.symbology)).toEqual(doc.offers.map((o) => (o.coupon.scheme === 'gcn' ? 'gs1-128' : 'databar-expanded')));
    expect(json.dueSoon[1]!.offerMarker).toBe('Offer 1: $2.00 off');
    expect(json.dueSoon[0]!.offerMarker).toBeNull();
    expect(json.offers.map((o) => o.discountText)).toEqual(['$2.00 off', '25% off', '2 for $15.00', '$3.00 off', '$0.50 off']);
  });
});

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const c of stream as unknown as AsyncIterable<Uint8Array>) chunks.push(c);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

describe('print batch', () => {
  it('puts every list in one PDF, reports progress, and each list keeps its own barcodes', async () => {
    const lists = Array.from({ length: 30 }, (_, i) => sampleList(100 + i));
    const progress: number[] = [];
    let pagesReported = 0;
    const pdf = await readAll(
      renderPrintBatch(lists, {
        paper: 'letter',
        total: lists.length,
        onProgress: (p) => {
          progress.push(p.lists);
          pagesReported = p.pages;
          expect(p.total).toBe(30);
        },
      }),
    );
    const singlePages = pageCount(await renderListPdf(lists[0]!));
    expect(pageCount(pdf)).toBe(30 * singlePages);
    expect(pagesReported).toBe(30 * singlePages);
    expect(progress).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    // first page of the first and of the last list
    const lastFirst = 29 * singlePages;
    const found = await decodeAll(pdf, [0, lastFirst]);
    const lists0 = found.filter((f) => f.page === 0).map((f) => parseListBarcode(f.text)).filter((p) => p.ok);
    const lists29 = found.filter((f) => f.page === lastFirst).map((f) => parseListBarcode(f.text)).filter((p) => p.ok);
    expect(lists0).toEqual([{ ok: true, serial: lists[0]!.listSerial }]);
    expect(lists29).toEqual([{ ok: true, serial: lists[29]!.listSerial }]);
  });

  it('pads lists to an even page count for duplex printing', async () => {
    const short = sampleList(1, { offers: [], rewards: [], content: null, perks: [], dueSoon: [] });
    const pdf = await readAll(renderPrintBatch([short, sampleList(2), short], { paper: 'a4', duplex: true }));
    expect(pageCount(pdf)).toBe(2 + 2 + 2);
  });

  it('streams: pulls lists only as the reader consumes bytes', async () => {
    let pulled = 0;
    function* many() {
      for (let i = 0; i < 5000; i++) {
        pulled++;
        yield sampleList(1 + i);
      }
    }
    const reader = renderPrintBatch(many(), { paper: 'letter' }).getReader();
    let bytes = 0;
    while (bytes < 64 * 1024) {
      const { value, done } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
    }
    expect(bytes).toBeGreaterThanOrEqual(64 * 1024);
    // 256 KiB of queue ahead of the reader is a few dozen lists, not the 5,000 on offer
    expect(pulled).toBeLessThan(100);
    await reader.cancel();
  });

  it('fails the stream on an invalid list, naming its position', async () => {
    const bad = sampleList(3, { periodToDate: '2026-11-01' });
    await expect(readAll(renderPrintBatch([sampleList(1), bad]))).rejects.toThrow(/list 2 in the batch is invalid/);
  });
});
