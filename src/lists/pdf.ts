import * as pdfkit from 'pdfkit';
import Helvetica from 'pdfkit/standard-fonts/Helvetica';
import HelveticaBold from 'pdfkit/standard-fonts/HelveticaBold';
import { cardBarcode, listBarcode, vectorBarcode, type BarcodeSpec, type VectorBarcode } from './barcodes.ts';
import {
  discountText,
  duePriceText,
  formatCents,
  formatDate,
  formatPeriod,
  ListDocument,
  offerBarcodeSpec,
  offerMarker,
  voidText,
  type ListDocumentInput,
} from './document.ts';

/**
 * One list as a one- or two-page PDF (Letter or A4), and store print batches: many lists in one
 * PDF, streamed list by list.
 *
 * Layout is computed before drawing: each section becomes blocks of known height, blocks are
 * placed on pages (a heading stays with what follows it), and only then drawn, so every page
 * knows "page i of n". Barcodes are drawn as vector rectangles from bwip-js's drawing API, never
 * as images: sharper print, a fraction of the time, and no PNG encoder needed on Workers.
 *
 * pdfkit resolves to its Node build on Node and to its runtime-free build elsewhere; the latter
 * needs the standard font metrics registered, which this module does once when it exists.
 */

type Doc = PDFKit.PDFDocument;
const PDFDocument = (pdfkit as unknown as { default: new (o: PDFKit.PDFDocumentOptions) => Doc }).default;
const registerStdFonts = (pdfkit as unknown as { registerStdFonts?: (...fonts: unknown[]) => void }).registerStdFonts;
registerStdFonts?.(Helvetica, HelveticaBold);

export type Paper = 'letter' | 'a4';

const PAGE: Record<Paper, { width: number; height: number; pdfkitSize: string }> = {
  letter: { width: 612, height: 792, pdfkitSize: 'LETTER' },
  a4: { width: 595.28, height: 841.89, pdfkitSize: 'A4' },
};

/** Narrow bar width in points: 1 pt ≈ 0.35 mm, inside GS1's range for coupons and POS scanning. */
export const MODULE_WIDTH_PT = 1;
const QUIET_MODULES = 10;
const MARGIN = 36;
const FONT = 'Helvetica';
const BOLD = 'Helvetica-Bold';
const INK = '#1a1a1a';
const GRAY = '#5f6368';
const RULE = '#c9d1cc';
const VOID_RED = '#b3261e';

const UNICODE = 'DejaVuSans';
const UNICODE_BOLD = 'DejaVuSans-Bold';

/**
 * Characters the standard fonts show: pdfkit writes Helvetica's text in WinAnsi encoding, which is
 * Latin-1 (0x20–0x7E, 0xA0–0xFF) plus the 27 characters of 0x80–0x9F (€, „, –, •, Š, Ž, Œ, ™ …).
 * Anything else (Ł, Ż, Greek, Cyrillic) would be written as a wrong byte and print as garbage.
 */
const WIN_ANSI_EXTRA = new Set([
  0x20ac, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x017d,
  0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x017e, 0x0178,
]);

/** Whether Helvetica (WinAnsi) shows every character of `str`; line breaks and tabs count as shown. */
function winAnsiShows(str: string): boolean {
  for (let i = 0; i < str.length; i++) {
    const c = str.charCodeAt(i);
    if ((c >= 0x20 && c <= 0x7e) || (c >= 0xa0 && c <= 0xff) || c === 0x0a || c === 0x0d || c === 0x09) continue;
    if (!WIN_ANSI_EXTRA.has(c)) return false;
  }
  return true;
}

const IGNORABLE = /\p{Default_Ignorable_Code_Point}/u;

/**
 * Picks the font of each string drawn: Helvetica when WinAnsi shows all of it (a Latin-1 list
 * stays as it was: no embedded font, same size), else DejaVu Sans (embedded as a subset of the
 * glyphs used). A whole string goes in one font, so its width is measured in the font it is
 * drawn in, and wrapping stays right.
 *
 * Characters DejaVu lacks too (CJK, most emoji) are drawn as "?" and invisible format characters
 * it lacks (variation selectors, joiners) are dropped: pdfkit would draw each as DejaVu's .notdef
 * box, and its ToUnicode map would give every such box the first missing character's code, so
 * the PDF's text would claim characters that are not there. "?" prints and reads the same.
 */
class FontChooser {
  private readonly unicode: boolean;
  constructor(
    private readonly pdf: Doc,
    fonts: ListFonts | null | undefined,
  ) {
    this.unicode = !!fonts;
    if (fonts) pdf.registerFont(UNICODE, toBytes(fonts.regular)).registerFont(UNICODE_BOLD, toBytes(fonts.bold));
  }

  /** The font to draw `str` in (given as Helvetica or Helvetica-Bold), and the text to draw. */
  run(str: string, font: string): { font: string; text: string } {
    if (!this.unicode || winAnsiShows(str)) return { font, text: str };
    const unicodeFont = font === BOLD ? UNICODE_BOLD : UNICODE;
    return { font: unicodeFont, text: this.covered(str, unicodeFont) };
  }

  private covered(str: string, name: string): string {
    // pdfkit opens a registered font on first use; the fontkit font behind it knows its cmap
    const font = (this.pdf.font(name) as unknown as { _font?: { font?: { hasGlyphForCodePoint?: (cp: number) => boolean } } })._font?.font;
    const has = font?.hasGlyphForCodePoint?.bind(font);
    if (!has) return str;
    let out = '';
    for (const ch of str) {
      const cp = ch.codePointAt(0)!;
      if (cp < 0x20 || has(cp)) out += ch;
      else if (!IGNORABLE.test(ch)) out += '?';
    }
    return out;
  }
}

function toBytes(b: Uint8Array | ArrayBuffer): Uint8Array {
  return b instanceof Uint8Array ? b : new Uint8Array(b);
}

/** A barcode ready to place: what it encodes and its bars in modules. */
export interface PlacedBarcode {
  spec: BarcodeSpec;
  vector: VectorBarcode;
}

/** Paints bars into a box; the default draws vectors. Swappable so benchmarks can compare with images. */
export type BarcodePainter = (
  doc: Doc,
  barcode: PlacedBarcode,
  box: { x: number; y: number; width: number; height: number },
) => void;

export const vectorPainter: BarcodePainter = (doc, { vector }, box) => {
  const sx = box.width / vector.widthModules;
  const b = vector.bars;
  for (let i = 0; i < b.length; i += 4) {
    doc.rect(box.x + b[i]! * sx, box.y + b[i + 1]! * box.height, b[i + 2]! * sx, b[i + 3]! * box.height);
  }
  doc.fillColor('#000000').fill();
};

/**
 * DejaVu Sans and DejaVu Sans Bold (npm `dejavu-fonts-ttf`) as TrueType bytes, for text
 * Helvetica cannot show. The caller loads them (src/lists/node.ts on Node; bundled as data
 * modules on Workers): this module reads no files.
 */
export interface ListFonts {
  regular: Uint8Array | ArrayBuffer;
  bold: Uint8Array | ArrayBuffer;
}

export interface RenderOptions {
  paper?: Paper;
  painter?: BarcodePainter;
  /** Without them, every string is drawn in Helvetica, and text outside WinAnsi prints wrong. */
  fonts?: ListFonts | null | undefined;
}

interface Block {
  height: number;
  /** Keep on the same page as the next block (headings). */
  keepWithNext?: boolean;
  draw(y: number): void;
}

class ListLayout {
  readonly width: number;
  readonly page: { width: number; height: number };
  constructor(
    readonly pdf: Doc,
    readonly doc: ListDocument,
    paper: Paper,
    readonly painter: BarcodePainter,
    readonly fonts: FontChooser,
  ) {
    this.page = PAGE[paper];
    this.width = this.page.width - 2 * MARGIN;
  }

  /** bwip-js encoding is most of a list's cost: each symbol is encoded once, for layout and drawing. */
  private readonly vectors = new Map<string, VectorBarcode>();
  private vectorOf(spec: BarcodeSpec): VectorBarcode {
    const key = `${spec.symbology} ${spec.text}`;
    let v = this.vectors.get(key);
    if (!v) {
      v = vectorBarcode(spec);
      this.vectors.set(key, v);
    }
    return v;
  }

  private get brand() {
    return this.doc.store.brandColor;
  }

  private text(str: string, x: number, y: number, opts: { font?: string; size: number; color?: string; width?: number; align?: 'left' | 'right' | 'center' }) {
    const run = this.fonts.run(str, opts.font ?? FONT);
    this.pdf
      .font(run.font)
      .fontSize(opts.size)
      .fillColor(opts.color ?? INK)
      .text(run.text, x, y, { width: opts.width, align: opts.align ?? 'left', lineBreak: opts.width !== undefined, lineGap: 1 });
  }

  private measure(str: string, font: string, size: number, width: number): number {
    const run = this.fonts.run(str, font);
    return this.pdf.font(run.font).fontSize(size).heightOfString(run.text, { width, lineGap: 1 });
  }

  /** Bars with their human-readable line centred below; returns the height used. */
  private barcode(spec: BarcodeSpec, rightX: number, y: number, barHeight: number, label?: string): { width: number } {
    const vector = this.vectorOf(spec);
    const width = vector.widthModules * MODULE_WIDTH_PT;
    const x = rightX - QUIET_MODULES * MODULE_WIDTH_PT - width;
    let top = y;
    if (label) {
      this.text(label, x, top, { font: BOLD, size: 6.5, color: GRAY });
      top += 9;
    }
    this.painter(this.pdf, { spec, vector }, { x, y: top, width, height: barHeight });
    this.text(spec.hri, x - 20, top + barHeight + 2, { size: 7, width: width + 40, align: 'center' });
    return { width };
  }

  private heading(title: string, note?: string): Block {
    return {
      height: 26,
      keepWithNext: true,
      draw: (y) => {
        this.text(title, MARGIN, y + 6, { font: BOLD, size: 13, color: this.brand });
        if (note) this.text(note, MARGIN, y + 9, { size: 8, color: GRAY, width: this.width, align: 'right' });
        this.pdf.moveTo(MARGIN, y + 22).lineTo(MARGIN + this.width, y + 22).lineWidth(0.6).strokeColor(this.brand).stroke();
      },
    };
  }

  /** Height of the VOID banner atop every page of a voided list (0 for a live one). */
  private get voidHeight(): number {
    return this.doc.status === 'voided' ? 26 : 0;
  }

  /** A voided list says so before anything else, on every page: its offers no longer apply. */
  private voidBanner(y: number) {
    if (this.doc.status !== 'voided') return;
    this.pdf.rect(0, y, this.page.width, this.voidHeight).fillColor(VOID_RED).fill();
    this.text(voidText(this.doc), MARGIN, y + 7, { font: BOLD, size: 13, color: '#ffffff', width: this.width, align: 'center' });
  }

  header(): Block {
    const { doc, page } = this;
    const band = 62;
    return {
      height: this.voidHeight + band + 92,
      draw: (top0) => {
        this.voidBanner(top0);
        const y = top0 + this.voidHeight;
        this.pdf.rect(0, y, page.width, band).fillColor(this.brand).fill();
        this.text(doc.store.chainName, MARGIN, y + 14, { font: BOLD, size: 20, color: '#ffffff' });
        const storeLine = [doc.store.storeName, doc.store.address].filter(Boolean).join(' · ');
        this.text(storeLine, MARGIN, y + 40, { size: 8.5, color: '#ffffff', width: this.width * 0.6 });
        this.text('Your shopping list', MARGIN, y + 14, { font: BOLD, size: 13, color: '#ffffff', width: this.width, align: 'right' });
        this.text(formatPeriod(doc.periodFromDate, doc.periodToDate), MARGIN, y + 32, { size: 10, color: '#ffffff', width: this.width, align: 'right' });
        if (doc.store.tagline) {
          this.text(doc.store.tagline, MARGIN, y + 46, { size: 8, color: '#ffffff', width: this.width, align: 'right' });
        }
        const top = y + band + 12;
        const hello = doc.greetingName ? `Hello ${doc.greetingName},` : 'Hello,';
        this.text(hello, MARGIN, top, { font: BOLD, size: 11 });
        this.text(
          'here is what you are likely to need over the next two weeks, with offers picked for you. ' +
            'Hand this list or your card to the cashier: every offer on it applies by itself.',
          MARGIN,
          top + 15,
          { size: 8.5, color: GRAY, width: this.width * 0.42 },
        );
        this.text(`Member ${doc.memberNumber}`, MARGIN, top + 58, { size: 8, color: GRAY });
        const right = MARGIN + this.width + QUIET_MODULES * MODULE_WIDTH_PT;
        const list = this.barcode(listBarcode(doc.listSerial), right, top, 34, 'LIST');
        if (doc.cardNumber) {
          this.barcode(cardBarcode(doc.cardNumber), right - list.width - 2 * QUIET_MODULES * MODULE_WIDTH_PT - 8, top, 34, 'CARD');
        }
      },
    };
  }

  continuationHeader(): Block {
    return {
      height: this.voidHeight + 40,
      draw: (top0) => {
        this.voidBanner(top0);
        const y = top0 + this.voidHeight;
        this.pdf.rect(0, y, this.page.width, 24).fillColor(this.brand).fill();
        this.text(this.doc.store.chainName, MARGIN, y + 7, { font: BOLD, size: 11, color: '#ffffff' });
        this.text(`Your shopping list, continued · ${formatPeriod(this.doc.periodFromDate, this.doc.periodToDate)}`, MARGIN, y + 8, {
          size: 8.5,
          color: '#ffffff',
          width: this.width,
          align: 'right',
        });
      },
    };
  }

  dueSoon(): Block[] {
    const items = this.doc.dueSoon;
    if (items.length === 0) return [];
    const offerIndex = new Map(this.doc.offers.map((o, i) => [o.serial, i]));
    const cols = { name: MARGIN + 4, size: MARGIN + this.width * 0.46, price: MARGIN + this.width * 0.6, marker: MARGIN + this.width * 0.72 };
    const row = 14;
    const blocks: Block[] = [this.heading('Due soon', 'Predicted from your own shopping rhythm; prices this week')];
    blocks.push({
      height: row,
      keepWithNext: true,
      draw: (y) => {
        for (const [label, x] of [['Item', cols.name], ['Size', cols.size], ['Price', cols.price], ['Offer', cols.marker]] as const) {
          this.text(label, x, y + 3, { font: BOLD, size: 7, color: GRAY });
        }
      },
    });
    const nameWidth = cols.size - cols.name - 6;
    const sizeWidth = cols.price - cols.size - 6;
    items.forEach((item, i) => {
      // a long name or size wraps: the row grows by the extra lines rather than run into the next item
      const extra = (str: string, size: number, width: number) =>
        this.measure(str, FONT, size, width) - this.measure('Hg', FONT, size, width);
      const height =
        row + Math.max(0, extra(item.name, 9, nameWidth), item.size ? extra(item.size, 8.5, sizeWidth) : 0);
      blocks.push({
        height,
        draw: (y) => {
          if (i % 2 === 0) this.pdf.rect(MARGIN, y, this.width, height).fillColor('#f1f5f2').fill();
          this.text(item.name, cols.name, y + 3.5, { size: 9, width: nameWidth });
          if (item.size) this.text(item.size, cols.size, y + 3.5, { size: 8.5, color: GRAY, width: sizeWidth });
          if (item.priceCents === null) {
            // no price on file: said in small grey type, right-aligned like a price, on one line
            const w = cols.marker - cols.price - 14;
            this.text(duePriceText(null), cols.price - 30, y + 4.5, { size: 7.5, color: GRAY, width: w + 30, align: 'right' });
          } else {
            this.text(duePriceText(item.priceCents), cols.price, y + 3.5, { size: 9, width: cols.marker - cols.price - 14, align: 'right' });
          }
          const at = item.offerSerial ? offerIndex.get(item.offerSerial) : undefined;
          if (at !== undefined) {
            this.text(offerMarker(at, this.doc.offers), cols.marker, y + 3.5, { font: BOLD, size: 8, color: this.brand, width: MARGIN + this.width - cols.marker });
          }
        },
      });
    });
    return blocks;
  }

  /** One coupon row: text on the left, its GS1 barcode on the right. */
  private coupon(c: {
    label: string;
    headline: string;
    description: string;
    validFromDate: string;
    validToDate: string;
    serial: string;
    terms?: string | null;
    spec: BarcodeSpec;
  }): Block {
    const pad = 8;
    const barWidth = this.vectorOf(c.spec).widthModules * MODULE_WIDTH_PT;
    const textWidth = this.width - barWidth - 2 * QUIET_MODULES * MODULE_WIDTH_PT - 2 * pad;
    const valid = `Valid ${formatDate(c.validFromDate)} – ${formatDate(c.validToDate)} · Serial ${c.serial}`;
    const textHeight =
      9 +
      this.measure(c.headline, BOLD, 14, textWidth) +
      2 +
      this.measure(c.description, FONT, 9.5, textWidth) +
      3 +
      this.measure(valid, FONT, 7.5, textWidth) +
      (c.terms ? this.measure(c.terms, FONT, 7, textWidth) + 1 : 0);
    const barBlock = 9 + 34 + 12;
    const height = Math.max(textHeight, barBlock) + 2 * pad;
    return {
      height: height + 6,
      draw: (y) => {
        this.pdf.roundedRect(MARGIN, y, this.width, height, 5).lineWidth(0.7).strokeColor(RULE).stroke();
        let ty = y + pad;
        const x = MARGIN + pad;
        this.text(c.label, x, ty, { font: BOLD, size: 7, color: GRAY });
        ty += 9;
        this.text(c.headline, x, ty, { font: BOLD, size: 14, color: this.brand, width: textWidth });
        ty += this.measure(c.headline, BOLD, 14, textWidth) + 2;
        this.text(c.description, x, ty, { size: 9.5, width: textWidth });
        ty += this.measure(c.description, FONT, 9.5, textWidth) + 3;
        this.text(valid, x, ty, { size: 7.5, color: GRAY, width: textWidth });
        ty += this.measure(valid, FONT, 7.5, textWidth) + 1;
        if (c.terms) this.text(c.terms, x, ty, { size: 7, color: GRAY, width: textWidth });
        // The quiet zone stays inside the box: a border line next to the bars reads as a bar.
        this.barcode(c.spec, MARGIN + this.width - pad, y + (height - barBlock) / 2, 34, 'SCAN AT CHECKOUT');
      },
    };
  }

  offers(): Block[] {
    const offers = this.doc.offers;
    if (offers.length === 0) return [];
    return [
      this.heading('Your offers', 'Each barcode is yours alone and redeems once'),
      ...offers.map((o, i) =>
        this.coupon({
          label: `OFFER ${i + 1}`,
          headline: discountText(o.discount),
          description: o.description,
          validFromDate: o.validFromDate,
          validToDate: o.validToDate,
          serial: o.serial,
          terms: o.terms,
          spec: offerBarcodeSpec(o),
        }),
      ),
    ];
  }

  rewards(): Block[] {
    const rewards = this.doc.rewards;
    if (rewards.length === 0) return [];
    return [
      this.heading('Rewards', 'Thank you for shopping with us'),
      ...rewards.map((r) =>
        this.coupon({
          label: 'REWARD',
          headline: `${formatCents(r.valueCents)} reward`,
          description: r.description,
          validFromDate: r.validFromDate,
          validToDate: r.validToDate,
          serial: r.serial,
          terms: r.terms,
          spec: offerBarcodeSpec(r),
        }),
      ),
    ];
  }

  content(): Block[] {
    const c = this.doc.content;
    if (!c) return [];
    const kind = { recipe: 'Recipe', meal_plan: 'Meal plan', tip: 'Tip' }[c.kind];
    const pad = 10;
    const w = this.width - 2 * pad;
    const lines = c.lines.map((l) => `•  ${l}`);
    const lineText = lines.join('\n');
    const height =
      pad * 2 + 10 + this.measure(c.title, BOLD, 12, w) + 3 + (c.body ? this.measure(c.body, FONT, 9, w) + 4 : 0) + (lines.length ? this.measure(lineText, FONT, 9, w) : 0);
    return [
      this.heading(kind),
      {
        height: height + 6,
        draw: (y) => {
          this.pdf.roundedRect(MARGIN, y, this.width, height, 5).fillColor('#f1f5f2').fill();
          let ty = y + pad;
          this.text(kind.toUpperCase(), MARGIN + pad, ty, { font: BOLD, size: 7, color: GRAY });
          ty += 10;
          this.text(c.title, MARGIN + pad, ty, { font: BOLD, size: 12, width: w });
          ty += this.measure(c.title, BOLD, 12, w) + 3;
          if (c.body) {
            this.text(c.body, MARGIN + pad, ty, { size: 9, width: w });
            ty += this.measure(c.body, FONT, 9, w) + 4;
          }
          if (lines.length) this.text(lineText, MARGIN + pad, ty, { size: 9, width: w });
        },
      },
    ];
  }

  perks(): Block[] {
    if (this.doc.perks.length === 0) return [];
    return [
      this.heading('Your member perks'),
      ...this.doc.perks.map((p) => {
        const body = `${p.title}: ${p.description}`;
        const height = this.measure(body, FONT, 9, this.width - 12) + 4;
        const title = this.fonts.run(`${p.title}: `, BOLD);
        const description = this.fonts.run(p.description, FONT);
        return {
          height,
          draw: (y: number) => {
            this.pdf.circle(MARGIN + 3, y + 5, 1.8).fillColor(this.brand).fill();
            this.pdf.font(title.font).fontSize(9).fillColor(INK).text(title.text, MARGIN + 12, y, { continued: true, width: this.width - 12, lineGap: 1 });
            this.pdf.font(description.font).text(description.text, { lineGap: 1 });
          },
        };
      }),
    ];
  }

  footer(pageIndex: number, pages: number) {
    const y = this.page.height - MARGIN + 8;
    this.pdf.moveTo(MARGIN, y - 4).lineTo(MARGIN + this.width, y - 4).lineWidth(0.4).strokeColor(RULE).stroke();
    const left = `${this.doc.store.chainName} · ${this.doc.store.storeName} · List ${this.doc.listSerial}`;
    this.text(left, MARGIN, y, { size: 7, color: GRAY });
    this.text(`Page ${pageIndex + 1} of ${pages}`, MARGIN, y, { size: 7, color: GRAY, width: this.width, align: 'right' });
  }

  /** Places blocks on pages; returns the page count. `newPage` starts every page after the first. */
  render(newPage: () => void): number {
    const body = [...this.dueSoon(), ...this.offers(), ...this.rewards(), ...this.content(), ...this.perks()];
    const bottom = this.page.height - MARGIN - 6;
    const pages: { block: Block; y: number }[][] = [[]];
    const header = this.header();
    pages[0]!.push({ block: header, y: 0 });
    let y = header.height + 4;
    for (let i = 0; i < body.length; i++) {
      const block = body[i]!;
      let need = block.height;
      // A heading (and a table head) moves to the next page with the first block it announces.
      for (let j = i; body[j]?.keepWithNext && j + 1 < body.length; j++) need += body[j + 1]!.height;
      if (y + need > bottom && pages[pages.length - 1]!.length > 1) {
        const cont = this.continuationHeader();
        pages.push([{ block: cont, y: 0 }]);
        y = cont.height + 4;
      }
      pages[pages.length - 1]!.push({ block, y });
      y += block.height;
    }
    pages.forEach((placed, p) => {
      if (p > 0) newPage();
      for (const { block, y: at } of placed) block.draw(at);
      this.footer(p, pages.length);
    });
    return pages.length;
  }
}

function newPdf(paper: Paper, title: string): Doc {
  return new PDFDocument({
    size: PAGE[paper].pdfkitSize,
    margin: 0,
    autoFirstPage: false,
    info: { Title: title, Creator: 'Cadence' },
    font: FONT,
  });
}

function addPage(pdf: Doc, paper: Paper) {
  pdf.addPage({ size: PAGE[paper].pdfkitSize, margin: 0 });
}

/** Draws one validated list onto `pdf` starting on a new page; returns the pages it took. */
function drawList(pdf: Doc, doc: ListDocument, paper: Paper, painter: BarcodePainter, fonts: FontChooser): number {
  addPage(pdf, paper);
  return new ListLayout(pdf, doc, paper, painter, fonts).render(() => addPage(pdf, paper));
}

/** Collects a pdfkit document's output; call before `end()`. */
function collect(pdf: Doc): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    pdf.on('data', (c: Uint8Array) => chunks.push(c));
    pdf.on('error', reject);
    pdf.on('end', () => {
      const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
      let at = 0;
      for (const c of chunks) {
        out.set(c, at);
        at += c.byteLength;
      }
      resolve(out);
    });
  });
}

/** One member's list as PDF bytes (the member's download, e-mail attachment, app view). */
export async function renderListPdf(input: ListDocumentInput, opts: RenderOptions = {}): Promise<Uint8Array> {
  const doc = ListDocument.parse(input);
  const paper = opts.paper ?? 'letter';
  const pdf = newPdf(paper, `Shopping list ${doc.listSerial}`);
  const bytes = collect(pdf);
  drawList(pdf, doc, paper, opts.painter ?? vectorPainter, new FontChooser(pdf, opts.fonts));
  pdf.end();
  return bytes;
}

export interface PrintBatchProgress {
  lists: number;
  pages: number;
  bytes: number;
  /** Set once known (when the caller passed `total`). */
  total?: number;
}

export interface PrintBatchOptions extends RenderOptions {
  title?: string;
  /** Number of lists, for progress shares; optional. */
  total?: number;
  /** Pad every list to an even page count so each starts on a front side in duplex printing. */
  duplex?: boolean;
  onProgress?: (p: PrintBatchProgress) => void;
}

/**
 * A store's print batch: every list in one PDF, streamed. Lists are pulled from `lists` one at a
 * time only when the reader wants more bytes, and each list's pages leave pdfkit once the next list
 * starts, so memory stays flat however many lists there are (fonts are shared, written once at the
 * end). An invalid list fails the stream with the list's position in the batch.
 */
export function renderPrintBatch(
  lists: Iterable<ListDocumentInput> | AsyncIterable<ListDocumentInput>,
  opts: PrintBatchOptions = {},
): ReadableStream<Uint8Array> {
  const paper = opts.paper ?? 'letter';
  const painter = opts.painter ?? vectorPainter;
  const iterator =
    Symbol.asyncIterator in lists ? (lists as AsyncIterable<ListDocumentInput>)[Symbol.asyncIterator]() : (lists as Iterable<ListDocumentInput>)[Symbol.iterator]();
  const progress: PrintBatchProgress = { lists: 0, pages: 0, bytes: 0, ...(opts.total !== undefined ? { total: opts.total } : {}) };
  let pdf: Doc;
  let fonts: FontChooser;
  let wake: (() => void) | null = null;
  // Once the reader cancels or the stream fails, pdfkit's late chunks have nowhere to go.
  let finished = false;
  const fail = (controller: ReadableStreamDefaultController<Uint8Array>, err: unknown) => {
    finished = true;
    controller.error(err);
  };

  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        pdf = newPdf(paper, opts.title ?? 'Shopping lists');
        fonts = new FontChooser(pdf, opts.fonts);
        pdf.on('data', (chunk: Uint8Array) => {
          progress.bytes += chunk.byteLength;
          if (!finished) controller.enqueue(chunk);
          wake?.();
        });
        pdf.on('end', () => {
          if (!finished) controller.close();
          finished = true;
        });
        pdf.on('error', (err: unknown) => {
          if (!finished) fail(controller, err);
        });
      },
      async pull(controller) {
        const next = await iterator.next();
        if (next.done) {
          if (progress.lists === 0) addPage(pdf, paper); // a PDF needs a page
          const done = new Promise<void>((r) => pdf.once('end', () => r()));
          pdf.end();
          await done;
          return;
        }
        const parsed = ListDocument.safeParse(next.value);
        if (!parsed.success) {
          fail(controller, new Error(`list ${progress.lists + 1} in the batch is invalid: ${parsed.error.message}`));
          await iterator.return?.();
          return;
        }
        // Wait for the bytes this list released (the previous list's pages) before asking for more.
        const flushed = new Promise<void>((r) => (wake = r));
        let pages = drawList(pdf, parsed.data, paper, painter, fonts);
        if (opts.duplex && pages % 2 === 1) {
          addPage(pdf, paper);
          pages++;
        }
        progress.lists++;
        progress.pages += pages;
        if (progress.lists > 1) await flushed;
        wake = null;
        opts.onProgress?.({ ...progress });
      },
      async cancel() {
        finished = true;
        await iterator.return?.();
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: 256 * 1024 }),
  );
}
