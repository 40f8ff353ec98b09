import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import bwipNode from 'bwip-js/node';
import * as pdfkit from 'pdfkit';
import { barcodeSvg, cardBarcode, listBarcode, type BarcodeSpec } from '../../src/lists/barcodes.ts';
import { discountText, duePriceText, formatCents, formatPeriod, ListDocument, offerBarcodeSpec } from '../../src/lists/document.ts';
import { renderListPdf, renderPrintBatch, type BarcodePainter } from '../../src/lists/pdf.ts';
import { sampleList } from '../lists/fixtures.ts';
import { periodBench } from './lists-period.ts';
import { benchChainArgs, benchChainOptions, rerunUnderPostgres } from './support.ts';

/**
 * Shopping-list PDFs (issue 7):
 *  1. Per-list render time of `renderListPdf` (vector barcodes), measured in one run against
 *     - the same layout with PNG barcodes (bwip-js toBuffer, embedded with doc.image), and
 *     - a bare pdfkit page with the same text and the same bwip-js barcodes, once as PNG images and
 *       once as bwip-js SVG path data (doc.path): the floor pdfkit itself sets.
 *     Issue 7's target: at least 0.6× the bare page's speed.
 *  2. A print batch of N lists streamed to a byte counter, vector vs PNG barcodes, each in its own
 *     process so peak RSS is that run's own: lists/s and peak RSS.
 *  3. The list period job on real PostgreSQL with a simulated chain (lists-period.ts): assignment
 *     time against a plain insert…select of one row per qualified member and a GROUP BY pass, and
 *     the lists' accuracy on the 14 held-out days against P-TopFreq lists of the same length.
 *
 *   npm run bench -- lists [--iterations 200] [--batch 1000] [--paper letter|a4] [--only pdf|db]
 *                          [--members 10000] [--weeks 18] [--stores 8] [--seed 42] [--end 2026-10-31]
 *                          [--repeat 3] [--reuse] [--keep]
 *
 * The database part needs PostgreSQL: without DATABASE_URL the bench re-runs itself under
 * `.ci/with-postgres` (a throwaway server). --reuse keeps the loaded chain (database bench_lists)
 * between runs, reloaded when the options differ; --keep leaves it afterwards.
 */

const TARGET_SPEED_VS_BARE = 0.6;
const root = join(import.meta.dirname, '..', '..');

class BenchFailure extends Error {
  override name = 'BenchFailure';
}

type Doc = PDFKit.PDFDocument;
const PDFDocument = (pdfkit as unknown as { default: new (o: PDFKit.PDFDocumentOptions) => Doc }).default;

function collect(pdf: Doc): Promise<number> {
  return new Promise((resolve) => {
    let n = 0;
    pdf.on('data', (c: Uint8Array) => (n += c.byteLength));
    pdf.on('end', () => resolve(n));
  });
}

/** Every barcode a list carries. */
function specsOf(doc: ListDocument): BarcodeSpec[] {
  return [
    listBarcode(doc.listSerial),
    ...(doc.cardNumber ? [cardBarcode(doc.cardNumber)] : []),
    ...doc.offers.map(offerBarcodeSpec),
    ...doc.rewards.map(offerBarcodeSpec),
  ];
}

/** The strings the list layout prints, for the bare page. */
function textsOf(doc: ListDocument): string[] {
  return [
    doc.store.chainName,
    doc.store.storeName,
    'Your shopping list',
    formatPeriod(doc.periodFromDate, doc.periodToDate),
    `Hello ${doc.greetingName},`,
    `Member ${doc.memberNumber}`,
    'Due soon',
    ...doc.dueSoon.flatMap((d) => [d.name, d.size ?? '', duePriceText(d.priceCents)]),
    'Your offers',
    ...doc.offers.flatMap((o, i) => [`OFFER ${i + 1}`, discountText(o.discount), o.description, `Valid … Serial ${o.serial}`]),
    'Rewards',
    ...doc.rewards.flatMap((r) => [`${formatCents(r.valueCents)} reward`, r.description]),
    doc.content?.title ?? '',
    doc.content?.body ?? '',
    ...(doc.content?.lines ?? []),
    ...doc.perks.map((p) => `${p.title}: ${p.description}`),
  ].filter(Boolean);
}

const BCID = { code128: 'code128', 'gs1-128': 'gs1-128', 'databar-expanded': 'databarexpanded' } as const;

/** bwip-js PNGs at 3 px per module (≈ 216 dpi at 1 pt modules), as a PNG-based renderer would make them. */
async function pngs(specs: BarcodeSpec[]): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const s of specs) out.set(s.text, await bwipNode.toBuffer({ bcid: BCID[s.symbology], text: s.text, scale: 3, height: 12 }));
  return out;
}

async function cadenceVector(doc: ListDocument): Promise<number> {
  return (await renderListPdf(doc)).byteLength;
}

async function cadencePng(doc: ListDocument): Promise<number> {
  const images = await pngs(specsOf(doc));
  const painter: BarcodePainter = (pdf, { spec }, box) => {
    pdf.image(images.get(spec.text)!, box.x, box.y, { width: box.width, height: box.height });
  };
  return (await renderListPdf(doc, { painter })).byteLength;
}

/** One bare pdfkit page: the texts in a column, the barcodes in another. */
async function barePage(doc: ListDocument, barcodes: 'png' | 'svg'): Promise<number> {
  const specs = specsOf(doc);
  const images = barcodes === 'png' ? await pngs(specs) : null;
  const pdf = new PDFDocument({ size: 'LETTER', margin: 0 });
  const bytes = collect(pdf);
  pdf.font('Helvetica').fontSize(8);
  textsOf(doc).forEach((t, i) => pdf.text(t, 36, 36 + i * 11, { lineBreak: false }));
  specs.forEach((s, i) => {
    const y = 36 + i * 70;
    if (images) {
      pdf.image(images.get(s.text)!, 300, y, { width: 250, height: 40 });
    } else {
      const svg = barcodeSvg(s);
      pdf.save().translate(300, y).scale(0.5);
      for (const m of svg.matchAll(/<path[^>]*?(?:stroke-width="(\d+)")?[^>]* d="([^"]+)"/g)) {
        if (m[1]) pdf.path(m[2]!).lineWidth(Number(m[1])).stroke('#000000');
        else pdf.path(m[2]!).fill('#000000');
      }
      pdf.restore();
    }
  });
  pdf.end();
  return bytes;
}

interface Timing {
  label: string;
  msPerList: number;
  bytes: number;
}

async function time(label: string, docs: ListDocument[], fn: (d: ListDocument) => Promise<number>, warmup: number): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await fn(docs[i % docs.length]!);
  let bytes = 0;
  const start = performance.now();
  for (const d of docs) bytes += await fn(d);
  return { label, msPerList: (performance.now() - start) / docs.length, bytes: bytes / docs.length };
}

/** Child process: one print batch streamed to a counter; prints a JSON line. */
async function batchChild(lists: number, painter: 'vector' | 'png', paper: 'letter' | 'a4') {
  const docs = function* () {
    for (let i = 0; i < lists; i++) yield ListDocument.parse(sampleList(1 + i));
  };
  let opts = {};
  if (painter === 'png') {
    // PNGs are made per list, inside the batch's pull, like a PNG renderer would
    const cache = new Map<string, Buffer>();
    const p: BarcodePainter = (pdf, { spec }, box) => pdf.image(cache.get(spec.text)!, box.x, box.y, { width: box.width, height: box.height });
    const source = docs();
    const withPngs = async function* () {
      for (const d of source) {
        cache.clear();
        for (const [k, v] of await pngs(specsOf(d))) cache.set(k, v);
        yield d;
      }
    };
    opts = { painter: p };
    return report(await consume(renderPrintBatch(withPngs(), { ...opts, paper })));
  }
  return report(await consume(renderPrintBatch(docs(), { paper })));

  async function consume(stream: ReadableStream<Uint8Array>) {
    const start = performance.now();
    let bytes = 0;
    for await (const c of stream as unknown as AsyncIterable<Uint8Array>) bytes += c.byteLength;
    return { seconds: (performance.now() - start) / 1000, bytes };
  }
  function report(r: { seconds: number; bytes: number }) {
    console.log(JSON.stringify({ ...r, lists, maxRssMb: process.resourceUsage().maxRSS / 1024 }));
  }
}

function batchInChild(lists: number, painter: 'vector' | 'png', paper: string) {
  const out = execFileSync(
    process.execPath,
    ['--import', 'tsx', 'test/bench/run.ts', 'lists', '--child', painter, '--batch', String(lists), '--paper', paper],
    { cwd: root, encoding: 'utf8', maxBuffer: 1 << 20 },
  );
  return JSON.parse(out.trim().split('\n').at(-1)!) as { seconds: number; bytes: number; lists: number; maxRssMb: number };
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      iterations: { type: 'string', default: '200' },
      batch: { type: 'string', default: '1000' },
      paper: { type: 'string', default: 'letter' },
      child: { type: 'string' },
      only: { type: 'string' },
      ...benchChainOptions,
    },
    strict: true,
  });
  const paper = values.paper === 'a4' ? 'a4' : 'letter';
  if (values.child) return batchChild(Number(values.batch), values.child === 'png' ? 'png' : 'vector', paper);
  if (values.only !== undefined && values.only !== 'pdf' && values.only !== 'db') {
    throw new BenchFailure(`--only takes pdf or db, not ${values.only}`);
  }
  const db = values.only !== 'pdf';
  if (db && !process.env.DATABASE_URL) await rerunUnderPostgres('lists', args);

  let pdfFailure: BenchFailure | null = null;
  if (values.only !== 'db') pdfFailure = await pdfBench(Number(values.iterations), Number(values.batch), paper);
  if (db) {
    await periodBench(process.env.DATABASE_URL!, root, benchChainArgs(values));
  }
  if (pdfFailure) throw pdfFailure;
}

/** Parts 1 and 2; returns the target miss (thrown after the database part has run too). */
async function pdfBench(n: number, lists: number, paper: 'letter' | 'a4'): Promise<BenchFailure | null> {

  const docs = Array.from({ length: n }, (_, i) => ListDocument.parse(sampleList(1 + i)));
  const d0 = docs[0]!;
  console.log(
    `lists: per-list PDF, ${n} lists after ${Math.min(20, n)} warm-up renders; each list: ${d0.dueSoon.length} due items, ` +
      `${d0.offers.length} offers, ${d0.rewards.length} rewards, ${specsOf(d0).length} barcodes, 2 pages`,
  );
  const warm = Math.min(20, n);
  const vector = await time('cadence list, vector barcodes', docs, cadenceVector, warm);
  const png = await time('cadence list, PNG barcodes (bwip-js toBuffer)', docs, cadencePng, warm);
  const barePng = await time('bare pdfkit page, same text + bwip-js PNGs', docs, (d) => barePage(d, 'png'), warm);
  const bareSvg = await time('bare pdfkit page, same text + bwip-js SVG paths', docs, (d) => barePage(d, 'svg'), warm);
  for (const t of [vector, png, barePng, bareSvg]) {
    console.log(`  ${t.label.padEnd(50)} ${t.msPerList.toFixed(2).padStart(7)} ms/list  ${(t.bytes / 1024).toFixed(1).padStart(6)} KiB`);
  }
  const speed = (t: Timing, base: Timing) => base.msPerList / t.msPerList;
  console.log(`  vector vs PNG barcodes in the same layout: ${speed(vector, png).toFixed(2)}× the speed`);
  console.log(`  vector vs bare page with PNGs:             ${speed(vector, barePng).toFixed(2)}× the speed (target ≥ ${TARGET_SPEED_VS_BARE}×)`);
  console.log(`  vector vs bare page with SVG paths:        ${speed(vector, bareSvg).toFixed(2)}× the speed`);

  console.log(`print batch: ${lists} lists streamed to a byte counter, each run in its own process (${paper})`);
  const bv = batchInChild(lists, 'vector', paper);
  const bp = batchInChild(lists, 'png', paper);
  for (const [label, b] of [['vector barcodes', bv], ['PNG barcodes (baseline)', bp]] as const) {
    console.log(
      `  ${label.padEnd(24)} ${(b.lists / b.seconds).toFixed(0).padStart(5)} lists/s  ${b.seconds.toFixed(2)} s  ` +
        `${(b.bytes / 1024 / 1024).toFixed(1)} MiB PDF  peak RSS ${b.maxRssMb.toFixed(0)} MiB`,
    );
  }
  console.log(`  vector vs PNG: ${(bp.seconds / bv.seconds).toFixed(2)}× the speed, ${(bv.maxRssMb / bp.maxRssMb).toFixed(2)}× the peak RSS`);
  const small = batchInChild(Math.max(1, Math.round(lists / 5)), 'vector', paper);
  console.log(`  streaming: peak RSS ${small.maxRssMb.toFixed(0)} MiB for ${small.lists} lists vs ${bv.maxRssMb.toFixed(0)} MiB for ${lists} (flat = constant memory)`);

  if (speed(vector, barePng) < TARGET_SPEED_VS_BARE) {
    return new BenchFailure(`per-list PDF at ${speed(vector, barePng).toFixed(2)}× a bare pdfkit page with bwip-js barcodes, below ${TARGET_SPEED_VS_BARE}×`);
  }
  return null;
}
