import { describe, expect, it, vi } from 'vitest';
import { decode, rasterize } from './decode.ts';
import { sampleList } from './fixtures.ts';

/*
 * On Workers, `pdfkit` resolves to its runtime-free build (no fs, stream or zlib), which knows no
 * font until registered. This file swaps that build in for `pdfkit` and renders a list with it.
 */
vi.mock('pdfkit', async () => {
  const { createRequire } = await import('node:module');
  const { pathToFileURL } = await import('node:url');
  const { dirname, join } = await import('node:path');
  const nodeBuild = createRequire(import.meta.url).resolve('pdfkit'); // …/pdfkit/js/pdfkit.js
  return import(pathToFileURL(join(dirname(nodeBuild), 'pdfkit.browser.mjs')).href);
});

describe("pdfkit's runtime-free build", () => {
  it('renders a list whose barcodes decode', async () => {
    const pdfkit = await import('pdfkit');
    expect('registerStdFonts' in pdfkit).toBe(true); // it is the runtime-free build
    const { renderListPdf } = await import('../../src/lists/pdf.ts');
    const doc = sampleList(9);
    const pdf = await renderListPdf(doc, { paper: 'a4' });
    const texts = [];
    for (const page of rasterize(pdf, 200)) texts.push(...(await decode(page)).map((d) => d.text));
    expect(texts).toContain(doc.cardNumber);
    expect(texts.filter((t) => t.startsWith('(255)') || t.startsWith('(8112)'))).toHaveLength(doc.offers.length + doc.rewards.length);
  });
});
