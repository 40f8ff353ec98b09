import { describe, expect, it, vi } from 'vitest';
import { decode, pageTexts, rasterize } from './decode.ts';
import { nonLatin, nonLatinList, sampleList } from './fixtures.ts';

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

  it('prints Polish, Greek and Cyrillic in DejaVu Sans given as the ArrayBuffers of Data modules', async () => {
    const { readFileSync } = await import('node:fs');
    const { createRequire } = await import('node:module');
    // what `import bytes from 'dejavu-fonts-ttf/ttf/….ttf'` gives the worker (wrangler.toml [[rules]])
    const dataModule = (name: string) => {
      const b = readFileSync(createRequire(import.meta.url).resolve(`dejavu-fonts-ttf/ttf/${name}`));
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    };
    const { renderListPdf } = await import('../../src/lists/pdf.ts');
    const doc = nonLatinList(10);
    const pdf = await renderListPdf(doc, { paper: 'a4', fonts: { regular: dataModule('DejaVuSans.ttf'), bold: dataModule('DejaVuSans-Bold.ttf') } });
    const text = pageTexts(pdf).join('\n');
    expect(text).toContain(`Hello ${nonLatin.greetingName},`);
    for (const name of nonLatin.items) expect(text).toContain(name);
    expect(text).toContain(nonLatin.offer);
    expect(text).toContain(nonLatin.cjk.printed);
    const texts = [];
    for (const page of rasterize(pdf, 200)) texts.push(...(await decode(page)).map((d) => d.text));
    expect(texts).toContain(doc.cardNumber);
    expect(texts.filter((t) => t.startsWith('(255)') || t.startsWith('(8112)'))).toHaveLength(doc.offers.length + doc.rewards.length);
  });
});
