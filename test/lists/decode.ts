import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as mupdf from 'mupdf';
import { prepareZXingModule, readBarcodes } from 'zxing-wasm/reader';

/**
 * Independent readers for rendered lists: MuPDF (WebAssembly) rasterizes PDF pages and extracts
 * their text; ZXing-C++ (WebAssembly) decodes the barcodes on the raster. Both come from npm and
 * load their WebAssembly from node_modules, so tests need no system packages and no network.
 * When poppler-utils and zbar-tools are installed, pdftoppm + zbarimg give a second opinion.
 */

export interface Raster {
  width: number;
  height: number;
  rgba: Uint8ClampedArray;
}

export interface Decoded {
  format: string;
  text: string;
  symbologyIdentifier: string;
}

let zxingReady: Promise<unknown> | null = null;

function zxing() {
  if (!zxingReady) {
    const path = createRequire(import.meta.url).resolve('zxing-wasm/reader/zxing_reader.wasm');
    const wasm = readFileSync(path);
    zxingReady = prepareZXingModule({
      // Without this, zxing-wasm would fetch its .wasm from a CDN.
      overrides: { wasmBinary: wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) as ArrayBuffer },
      fireImmediately: true,
    });
  }
  return zxingReady;
}

export function pageCount(pdf: Uint8Array): number {
  return mupdf.Document.openDocument(pdf, 'application/pdf').countPages();
}

/** Page sizes in points. */
export function pageSizes(pdf: Uint8Array): [number, number][] {
  const doc = mupdf.Document.openDocument(pdf, 'application/pdf');
  const out: [number, number][] = [];
  for (let i = 0; i < doc.countPages(); i++) {
    const [x0, y0, x1, y1] = doc.loadPage(i).getBounds();
    out.push([x1 - x0, y1 - y0]);
  }
  return out;
}

export function rasterize(pdf: Uint8Array, dpi: number, pages?: number[]): Raster[] {
  const doc = mupdf.Document.openDocument(pdf, 'application/pdf');
  const which = pages ?? Array.from({ length: doc.countPages() }, (_, i) => i);
  return which.map((i) => {
    const pix = doc.loadPage(i).toPixmap(mupdf.Matrix.scale(dpi / 72, dpi / 72), mupdf.ColorSpace.DeviceRGB, false);
    const width = pix.getWidth();
    const height = pix.getHeight();
    const n = pix.getNumberOfComponents();
    const stride = pix.getStride();
    const px = pix.getPixels();
    const rgba = new Uint8ClampedArray(width * height * 4);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const s = y * stride + x * n;
        const d = (y * width + x) * 4;
        rgba[d] = px[s]!;
        rgba[d + 1] = px[s + 1]!;
        rgba[d + 2] = px[s + 2]!;
        rgba[d + 3] = 255;
      }
    }
    pix.destroy();
    return { width, height, rgba };
  });
}

export async function decode(raster: Raster): Promise<Decoded[]> {
  await zxing();
  const results = await readBarcodes(
    { data: raster.rgba, width: raster.width, height: raster.height, colorSpace: 'srgb' } as unknown as Parameters<typeof readBarcodes>[0],
    { formats: ['Code128', 'DataBarExp'], maxNumberOfSymbols: 64, tryHarder: true },
  );
  return results.filter((r) => r.isValid).map((r) => ({ format: r.format, text: r.text, symbologyIdentifier: r.symbologyIdentifier }));
}

/** Text of each page in reading order, as MuPDF extracts it. */
export function pageTexts(pdf: Uint8Array): string[] {
  const doc = mupdf.Document.openDocument(pdf, 'application/pdf');
  return Array.from({ length: doc.countPages() }, (_, i) => doc.loadPage(i).toStructuredText('preserve-whitespace').asText());
}

/** The text lines of one page with their boxes (points, y downwards), as MuPDF extracts them. */
export function pageLines(pdf: Uint8Array, page: number): { text: string; x: number; y: number; w: number; h: number }[] {
  const doc = mupdf.Document.openDocument(pdf, 'application/pdf');
  const json = JSON.parse(doc.loadPage(page).toStructuredText('preserve-whitespace').asJSON()) as {
    blocks: { lines?: { text: string; bbox: { x: number; y: number; w: number; h: number } }[] }[];
  };
  return json.blocks.flatMap((b) => (b.lines ?? []).map((l) => ({ text: l.text, ...l.bbox })));
}

function onPath(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export const hasPopplerAndZbar = onPath('pdftoppm') && onPath('zbarimg');

/** pdftoppm at `dpi`, then zbarimg on every page: one entry per symbol, `TYPE:data` as zbar prints it. */
export function zbarDecodePdf(pdf: Uint8Array, dpi: number): string[][] {
  const dir = mkdtempSync(join(tmpdir(), 'cadence-zbar-'));
  try {
    writeFileSync(join(dir, 'list.pdf'), pdf);
    execFileSync('pdftoppm', ['-r', String(dpi), '-gray', '-png', join(dir, 'list.pdf'), join(dir, 'page')]);
    const pages = readdirSync(dir).filter((f) => f.startsWith('page')).sort();
    return pages.map((p) => {
      let out = '';
      try {
        out = execFileSync('zbarimg', ['-q', join(dir, p)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      } catch (err) {
        // zbarimg exits 4 when a page has no symbol
        out = (err as { stdout?: string }).stdout ?? '';
      }
      return out.split('\n').filter(Boolean);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
