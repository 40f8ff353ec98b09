/**
 * Personalized shopping lists: the view model, barcodes and PDF rendering. Composition (which
 * items and offers go on a list) lives with the period job; this module only presents a list.
 */
export * from './barcodes.ts';
export * from './document.ts';
export {
  MODULE_WIDTH_PT,
  renderListPdf,
  renderPrintBatch,
  vectorPainter,
  type BarcodePainter,
  type ListFonts,
  type Paper,
  type PlacedBarcode,
  type PrintBatchOptions,
  type PrintBatchProgress,
  type RenderOptions,
} from './pdf.ts';
