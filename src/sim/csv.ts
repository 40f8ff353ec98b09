/**
 * CSV text for the simulator's outputs: comma-separated, `\n` line ends, a field quoted only when it
 * holds a comma, a double quote or a line break (RFC 4180 quoting).
 */

export type CsvValue = string | number | boolean | null | undefined;

export const PRODUCTS_CSV_COLUMNS = [
  'gtin',
  'name',
  'category_id',
  'category_name',
  'brand',
  'brand_type',
  'manufacturer_id',
  'manufacturer_name',
  'size',
  'price_cents',
] as const;

export const MEMBERS_CSV_COLUMNS = [
  'member_number',
  'card_number',
  'home_store_id',
  'household_size',
  'has_dog',
  'has_cat',
  'has_baby',
  'first_name',
  'last_name',
  'email',
  'postal_code',
  'enrolled_on',
] as const;

export const BASKETS_CSV_COLUMNS = [
  'card',
  'txn',
  'ts',
  'store_id',
  'terminal_id',
  'gtin',
  'qty',
  'unit_price_cents',
  'line_discount_cents',
] as const;

const NEEDS_QUOTES = /[",\r\n]/;

export function csvField(value: CsvValue): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One CSV line, without its line end. */
export function csvLine(values: readonly CsvValue[]): string {
  return values.map(csvField).join(',');
}

/**
 * Joins lines (as the simulator's CSV producers yield them, without line ends) into newline-
 * terminated chunks of about `chunkChars` characters: few, large writes for a file or a stream.
 */
export function* csvChunks(lines: Iterable<string>, chunkChars = 1 << 16): Generator<string> {
  let parts: string[] = [];
  let size = 0;
  for (const line of lines) {
    parts.push(line);
    size += line.length + 1;
    if (size >= chunkChars) {
      parts.push('');
      yield parts.join('\n');
      parts = [];
      size = 0;
    }
  }
  if (parts.length > 0) {
    parts.push('');
    yield parts.join('\n');
  }
}
