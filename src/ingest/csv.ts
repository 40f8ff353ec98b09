import { ValidationError } from '../lib/errors.ts';

/**
 * Streaming CSV (RFC 4180: commas, double-quoted fields with "" escapes, LF or CRLF line ends,
 * newlines inside quotes). Runtime-free: it reads an AsyncIterable of text chunks, so Node
 * streams, Workers request bodies and in-memory generators all feed it.
 */
export interface CsvRecord {
  /** 1-based line number of the record's first line in the file (the header is line 1). */
  line: number;
  fields: string[];
  /** The record as it stood in the file, without its line end. */
  raw: string;
}

/**
 * A record longer than this is refused: only a quoted field can make one (it spans lines), and
 * one that never closes (a truncated or broken file) would take the rest of the file into memory.
 */
export const MAX_RECORD_CHARS = 1 << 20;

/** The file cannot be read on from `line` (where the record starts). */
export class CsvRecordError extends ValidationError {
  constructor(
    readonly line: number,
    detail: string,
  ) {
    super(detail, [{ path: `line ${line}`, message: detail }]);
  }
}

export async function* readCsv(chunks: AsyncIterable<string> | Iterable<string>): AsyncGenerator<CsvRecord> {
  for await (const records of readCsvBatches(chunks)) yield* records;
}

/**
 * Records in arrays of up to `max`: bulk readers loop over arrays instead of awaiting one promise
 * per record (a million awaits cost more than the parsing), and few records are alive at once (the
 * records of a whole 1 MB chunk, alive across a reader's awaits, survived into the old generation:
 * garbage collection was a quarter of an import's time).
 */
export async function* readCsvBatches(chunks: AsyncIterable<string> | Iterable<string>, max = 512): AsyncGenerator<CsvRecord[]> {
  let buffer = '';
  let line = 0;
  let pending = '';
  let pendingStart = 0;
  let atStart = true;
  for await (let chunk of chunks) {
    if (atStart && chunk !== '') {
      // a byte order mark (Excel's "CSV UTF-8") is not part of the first field: before a quoted
      // header it would make the quotes part of the name, and the column unknown
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
      atStart = false;
    }
    buffer += chunk;
    let out: CsvRecord[] = [];
    let start = 0;
    let nl: number;
    while ((nl = buffer.indexOf('\n', start)) !== -1) {
      if (out.length >= max) {
        yield out;
        out = [];
      }
      let text = buffer.slice(start, nl);
      start = nl + 1;
      line++;
      if (text.endsWith('\r')) text = text.slice(0, -1);
      let open: boolean;
      if (pending) {
        open = !balanced(text, true); // only the new line is scanned: linear in the record
        text = `${pending}\n${text}`;
        pending = '';
      } else {
        pendingStart = line;
        open = !balanced(text, false);
      }
      if (open) {
        if (text.length > MAX_RECORD_CHARS) {
          throw new CsvRecordError(pendingStart, `a quoted field runs on past ${MAX_RECORD_CHARS >> 20} MB without its closing quote`);
        }
        pending = text;
        continue;
      }
      if (text === '') continue;
      out.push({ line: pendingStart, fields: splitRecord(text), raw: text });
    }
    buffer = buffer.slice(start);
    if (out.length > 0) yield out;
  }
  if (buffer.endsWith('\r')) buffer = buffer.slice(0, -1);
  const last = pending ? `${pending}\n${buffer}` : buffer;
  if (last !== '') {
    line++;
    yield [{ line: pending ? pendingStart : line, fields: splitRecord(last), raw: last }];
  }
}

/**
 * False while `text` ends inside a quoted field (its record goes on on the next line). A quote
 * opens a quoted field only as a field's first character; elsewhere it is a character of the field
 * (`Pizza 12" thin`), as in Python's csv reader: counting every quote made such a name open a
 * field that swallowed the following lines of the file into one record.
 */
function balanced(text: string, quotedAtStart: boolean): boolean {
  if (text.indexOf('"') === -1) return !quotedAtStart;
  let quoted = quotedAtStart;
  let fieldStart = !quotedAtStart;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (quoted) {
      if (ch === QUOTE) {
        if (text.charCodeAt(i + 1) === QUOTE) i++;
        else quoted = false;
      }
    } else if (ch === QUOTE && fieldStart) quoted = true;
    fieldStart = !quoted && ch === COMMA_CODE;
  }
  return !quoted;
}

const QUOTE = 34;
const COMMA_CODE = 44;

export function splitRecord(text: string): string[] {
  if (text.indexOf('"') === -1) return text.split(',');
  const out: string[] = [];
  let field = '';
  let quoted = false;
  let fieldStart = true;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    const atStart = fieldStart;
    fieldStart = false;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += ch;
    } else if (ch === '"' && atStart) quoted = true;
    else if (ch === ',') {
      out.push(field);
      field = '';
      fieldStart = true;
    } else field += ch;
  }
  out.push(field);
  return out;
}

/** One CSV field, quoted only when it must be. */
export function csvField(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvLine(values: readonly (string | number | boolean | null | undefined)[]): string {
  return values.map(csvField).join(',');
}

/**
 * Maps header names (case-insensitive, aliases allowed) to column positions.
 * `spec` maps a canonical name to its accepted header names.
 */
export function mapHeader<K extends string>(
  header: string[],
  spec: Record<K, readonly string[]>,
): { columns: Partial<Record<K, number>>; unknown: string[] } {
  const columns: Partial<Record<K, number>> = {};
  const unknown: string[] = [];
  header.forEach((name, index) => {
    const clean = name.trim().toLowerCase().replace(/^\ufeff/, '');
    const key = (Object.keys(spec) as K[]).find((k) => spec[k].includes(clean));
    if (key === undefined) unknown.push(name);
    else if (columns[key] === undefined) columns[key] = index;
  });
  return { columns, unknown };
}
