import type { z } from '@hono/zod-openapi';
import {
  Member,
  Product,
  upsertCategories,
  upsertManufacturers,
  upsertMembers,
  upsertProducts,
  type UpsertOutcome,
} from '../catalogue/index.ts';
import type { Deps } from '../deps.ts';
import { ValidationError } from '../lib/errors.ts';
import { parseGtin } from '../lib/gtin.ts';
import { lineAmountCents, lineDiscountProblem } from '../lib/money.ts';
import { inRange, MAX_INT4 } from '../lib/validators.ts';
import { unstorableReason } from '../lib/text.ts';
import { localToInstant, parseInstant } from '../lib/time.ts';
import { mapHeader, readCsv, readCsvBatches, type CsvRecord } from './csv.ts';
import { BasketRows, ReferenceCache, writeBaskets, type BasketHead } from './write-baskets.ts';

/** A CSV row that was not imported: written to the `.errors.csv` beside the file. */
export interface RejectedRow {
  line: number;
  /**
   * The column as the file's header names it (`card_number`, `basket_id`, `UPC`: what the user
   * can find in the file); `(row)` for a row of the wrong width, `(basket)` for a line of a basket
   * refused for another of its lines or as a whole.
   */
  field: string;
  reason: string;
  raw: string;
}

export interface ImportOptions {
  /** Zone for timestamps and dates without a UTC offset (the chain's time zone). */
  timeZone: string;
  /** Lines per committed batch. */
  batchSize?: number;
  /** Entries the basket import keeps of each kind of resolved reference (cards, GTINs). */
  referenceCacheSize?: number;
  onProgress?: (rows: number) => void;
  /**
   * Takes a rejected row. A promise returned is backpressure (the errors file's buffer is full):
   * the import reads no further row until it settles, and fails if it rejects. Rows come in file
   * order either way; returning nothing costs the import nothing.
   */
  onReject: (row: RejectedRow) => void | Promise<void>;
}

export interface ImportSummary {
  rows: number;
  imported: number;
  rejected: number;
  /** Baskets only. */
  created?: number;
  duplicates?: number;
  conflicts?: number;
  unknownGtins?: number;
  /** Header columns the importer does not read (a misspelt `card` would store every basket anonymous). */
  ignoredColumns: string[];
}

type Chunks = AsyncIterable<string> | Iterable<string>;

/**
 * Calls `onReject` and keeps the backpressure it asks for until the importer's next `wait()`,
 * where it reads on: rows can be rejected where the importer cannot wait (a batch's outcomes, a
 * refused basket's earlier lines), and without waiting a file of millions of bad rows ended up in
 * the errors stream's memory.
 */
function rejectSink(opts: ImportOptions, summary: { rejected: number }) {
  let pending: Promise<void> | undefined;
  return {
    reject(row: RejectedRow): void {
      summary.rejected++;
      const p = opts.onReject(row);
      if (!p || p === pending) return;
      pending = pending ? Promise.all([pending, p]).then(() => {}) : p;
      // handled here, thrown where waited for: an import that fails first must not leave it unhandled
      pending.catch(() => {});
    },
    /** True when a wait is due: one check per row on the good path. */
    get due(): boolean {
      return pending !== undefined;
    },
    async wait(): Promise<void> {
      while (pending) {
        const p = pending;
        pending = undefined;
        await p;
      }
    },
  };
}

const ignored = (names: string[]) => names.map((n) => n.trim()).filter((n) => n !== '');

/** A file without even a header line (0 bytes, or blank lines only) is refused, not "0 rows". */
function requireHeader(columns: unknown): void {
  if (!columns) throw new ValidationError('the file is empty', [{ path: 'header', message: 'no header line' }]);
}

function requireColumns<K extends string>(columns: Partial<Record<K, number>>, required: K[][], spec: Record<K, readonly string[]>) {
  const missing = required.filter((alternatives) => alternatives.every((k) => columns[k] === undefined));
  if (missing.length > 0) {
    throw new ValidationError(
      `the header lacks ${missing.map((alts) => alts.map((k) => spec[k][0]).join(' or ')).join(', ')}`,
      missing.map((alts) => ({ path: 'header', message: `missing column ${alts.map((k) => spec[k][0]).join(' or ')}` })),
    );
  }
}

/** A header column's name as the file writes it, for reject reports. */
function headerName(header: readonly string[], index: number | undefined): string | undefined {
  return index === undefined || index < 0 ? undefined : header[index]?.trim();
}

/**
 * The first field of a record that PostgreSQL cannot store (a NUL byte, a lone surrogate), named by
 * its header column; null for the usual record, found by one scan of its text.
 */
function unstorableField(record: CsvRecord, header: readonly string[]): { field: string; reason: string } | null {
  if (unstorableReason(record.raw) === null) return null;
  for (let i = 0; i < record.fields.length; i++) {
    const reason = unstorableReason(record.fields[i]!);
    if (reason) return { field: headerName(header, i) ?? `column ${i + 1}`, reason };
  }
  return null;
}

async function* withHeader(chunks: Chunks): AsyncGenerator<CsvRecord> {
  yield* readCsv(chunks);
}

// ---------------------------------------------------------------------------------------------
// Baskets

const basketColumns = {
  card: ['card', 'card_number'],
  member: ['member_id', 'member_number', 'member'],
  txn: ['txn', 'txn_id', 'basket_id', 'transaction_id'],
  ts: ['ts', 'timestamp', 'datetime', 'date'],
  store: ['store_id', 'store'],
  terminal: ['terminal_id', 'terminal', 'lane'],
  gtin: ['gtin', 'upc', 'ean'],
  qty: ['qty', 'quantity', 'units'],
  price: ['unit_price'],
  priceCents: ['unit_price_cents'],
  discount: ['line_discount'],
  discountCents: ['line_discount_cents'],
} as const;
type BasketColumn = keyof typeof basketColumns;

/** Lines one basket may hold, as POST /v1/baskets allows. */
const MAX_BASKET_LINES = 1_000;
const qtyPattern = /^-?\d{1,6}(\.\d{1,3})?$/;
const moneyPattern = /^\d{1,7}(\.\d{1,2})?$/;
const centsPattern = /^\d{1,9}$/;
const signedCentsPattern = /^-?\d{1,9}$/;
const signedMoneyPattern = /^-?\d{1,7}(\.\d{1,2})?$/;
const cardPattern = /^[0-9A-Za-z]{4,40}$/;
const memberPattern = /^[A-Za-z0-9_-]{1,40}$/;

/**
 * A basket row refused. `field`: the column (its key, reported under the file's header name for
 * it), or a name reported as is (`(row)`, a column of the header the importer does not read).
 */
class RowError extends Error {
  constructor(
    readonly field: BasketColumn | { name: string },
    reason: string,
  ) {
    super(reason);
  }
}

interface PendingBasket {
  store: string;
  terminal: string;
  txn: string;
  ts: string;
  card: string;
  member: string;
  /** Whether its head and lines are in the batch's rows (so far). */
  added: boolean;
  /** Line numbers and text of its rows, for the errors file (not the parsed records: a batch
   * in flight holding a million small objects made garbage collection a third of the import). */
  lineNos: number[];
  raws: string[];
  error: RejectedRow | null;
}

/**
 * Imports a basket CSV (one line per scanned item; lines of one basket adjacent). Each basket is
 * imported whole or not at all; rejected lines go to `onReject`. Idempotent: a re-import finds
 * every basket already stored and adds nothing. Memory stays flat: one batch at a time, and
 * while up to two batches are written the next is parsed.
 *
 * Each row is checked by hand (the same rules as the API's schema) and goes straight into the
 * column arrays that `writeBaskets` writes: no object per line, no zod call per line.
 */
export async function importBaskets(
  deps: Pick<Deps, 'db'> & Partial<Pick<Deps, 'copyTx'>>,
  chunks: Chunks,
  opts: ImportOptions,
): Promise<ImportSummary> {
  const batchSize = opts.batchSize ?? 20_000;
  const maxWrites = 2;
  const summary = { rows: 0, imported: 0, rejected: 0, created: 0, duplicates: 0, conflicts: 0, unknownGtins: 0, ignoredColumns: [] as string[] };
  const unknownGtins = new Set<string>();
  let columns: Partial<Record<BasketColumn, number>> | null = null;
  let width = 0;
  let current: PendingBasket | null = null;
  let batch: PendingBasket[] = [];
  let rows = new BasketRows();
  const cache = ReferenceCache.forRun(opts.referenceCacheSize);
  let batchLines = 0;
  let batchKeys = new Set<string>();
  // Up to two batches are written at once (each in its own transaction; their lock order is
  // sorted, see write-baskets.ts) while the next is parsed.
  const inflight = new Set<Promise<void>>();
  let failure: { error: unknown } | null = null;

  const sink = rejectSink(opts, summary);
  const reject = sink.reject;
  const rejectBasket = (b: PendingBasket, field: string, reason: string) => {
    b.lineNos.forEach((line, i) => reject({ line, field, reason, raw: b.raws[i]! }));
  };

  const write = async (baskets: PendingBasket[], ready: BasketRows) => {
    const result = await writeBaskets(deps, ready, 'import', { unknownGtins: 'distinct', cache });
    for (const g of result.unknownGtins) unknownGtins.add(g);
    result.outcomes.forEach((o, i) => {
      const b = baskets[i]!;
      if (o.status === 'created' || o.status === 'duplicate') {
        summary.imported += b.lineNos.length;
        summary[o.status === 'created' ? 'created' : 'duplicates']++;
      } else {
        if (o.status === 'conflict') summary.conflicts++;
        const issue = o.issues[0];
        const field = issue?.path === 'storeId' ? fieldName('store') : issue?.path === 'txnId' ? fieldName('txn') : '(basket)';
        rejectBasket(b, field, issue?.message ?? o.status);
      }
    });
    opts.onProgress?.(summary.rows);
  };

  const settle = async (limit: number) => {
    while (inflight.size > limit) await Promise.race(inflight);
    if (failure) throw failure.error;
  };
  const flush = async () => {
    if (batch.length === 0) return;
    const ready = batch;
    const readyRows = rows;
    batch = [];
    rows = new BasketRows();
    batchLines = 0;
    batchKeys = new Set();
    await settle(maxWrites - 1);
    const p: Promise<void> = write(ready, readyRows)
      .catch((error: unknown) => {
        failure ??= { error };
      })
      .finally(() => inflight.delete(p));
    inflight.add(p);
  };

  // A refused basket's rows are reported when it is refused and then as they come, not kept
  // until it ends: a file without txn ids is one "basket" as long as the file.
  const rejectRow = (bad: RejectedRow, line: number, raw: string) =>
    reject(line === bad.line ? bad : { line, field: '(basket)', reason: `basket rejected: line ${bad.line} is invalid (${bad.field.replace(/^\((.*)\)$/, '$1')})`, raw });

  const close = async (b: PendingBasket | null) => {
    if (!b || b.error) return; // a refused basket's rows are reported already

    batch.push(b);
    batchKeys.add(`${b.store}\u0000${b.terminal}\u0000${b.txn}`);
    batchLines += b.lineNos.length;
    if (batchLines >= batchSize) await flush();
  };

  const ix = {} as Record<BasketColumn, number>;
  const gtins = new Map<string, string>();
  let header: readonly string[] = [];
  /** The file's own name for a column (a column it lacks: the README's name). */
  const fieldName = (f: RowError['field']) =>
    typeof f === 'string' ? (headerName(header, ix[f]) ?? basketColumns[f][0]) : f.name;
  for await (const records of readCsvBatches(chunks)) {
    for (let r = 0; r < records.length; r++) {
      if (sink.due) await sink.wait();
      // Parsing buffered text never waits on I/O: let the replies of the writes in flight in
      // often, or each of their statements waits for the parser (measured: the database idled
      // half of the time with one yield per 1 MB chunk).
      if (inflight.size > 0 && (r & 511) === 511) await yieldToIo();
      const record = records[r]!;
      if (!columns) {
        const mapped = mapHeader(record.fields, basketColumns);
        requireColumns(mapped.columns, [['txn'], ['ts'], ['gtin'], ['qty']], basketColumns);
        summary.ignoredColumns = ignored(mapped.unknown);
        columns = mapped.columns;
        header = record.fields;
        for (const k of Object.keys(basketColumns) as BasketColumn[]) ix[k] = columns[k] ?? -1;
        width = record.fields.length;
        continue;
      }
      summary.rows++;
      const f = record.fields;
      const store = field(f, ix.store);
      const terminal = field(f, ix.terminal);
      const txn = field(f, ix.txn);
      const ts = field(f, ix.ts);
      const card = field(f, ix.card);
      const member = field(f, ix.member);
      if (!current || current.txn !== txn || current.store !== store || current.terminal !== terminal) {
        await close(current);
        const key = `${store}\u0000${terminal}\u0000${txn}`;
        // A key repeated within a batch: the batch before it is written first, so the repeat is
        // resolved against the stored basket (duplicate or conflict) like a re-import.
        if (batchKeys.has(key)) {
          await flush();
          await settle(0);
        }
        current = { store, terminal, txn, ts, card, member, added: false, lineNos: [], raws: [], error: null };
      }
      if (current.error) {
        rejectRow(current.error, record.line, record.raw);
        continue;
      }
      current.lineNos.push(record.line);
      current.raws.push(record.raw);
      try {
        if (f.length !== width) throw new RowError({ name: '(row)' }, `expected ${width} fields, found ${f.length}`);
        const unstorable = unstorableField(record, header);
        if (unstorable) throw new RowError({ name: unstorable.field }, unstorable.reason);
        if (current.lineNos.length === 1) {
          rows.addBasket(basketHead(current, opts.timeZone));
          current.added = true;
        } else if (ts !== current.ts || card !== current.card || member !== current.member) {
          throw new RowError('ts', `the basket's lines disagree on time or member (see line ${current.lineNos[0]!})`);
        } else if (current.lineNos.length > MAX_BASKET_LINES) {
          // as POST /v1/baskets; it also keeps a basket's total within bigint
          throw new RowError('txn', `a basket holds at most ${MAX_BASKET_LINES} lines (this one starts at line ${current.lineNos[0]!})`);
        }
        addLine(rows, f, ix, gtins);
      } catch (err) {
        if (!(err instanceof RowError)) throw err;
        const bad: RejectedRow = { line: record.line, field: fieldName(err.field), reason: err.message, raw: record.raw };
        current.error = bad;
        if (current.added) rows.dropLast();
        current.added = false;
        const { lineNos, raws } = current;
        lineNos.forEach((line, i) => rejectRow(bad, line, raws[i]!));
        current.lineNos = [];
        current.raws = [];
      }
    }
  }
  await close(current);
  await flush();
  await settle(0);
  await sink.wait();
  requireHeader(columns);
  summary.unknownGtins = unknownGtins.size;
  return summary;
}

/** A macrotask turn, so that socket replies are handled (setImmediate where the runtime has it). */
const yieldToIo: () => Promise<void> =
  typeof setImmediate === 'function'
    ? () => new Promise((resolve) => setImmediate(resolve))
    : () => new Promise((resolve) => setTimeout(resolve, 0));

function field(f: string[], i: number): string {
  return i < 0 ? '' : (f[i] ?? '').trim();
}

const exportedPattern = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?) ?(Z|[+-]\d{2}(?::?\d{2})?)$/;

/**
 * An instant with its offset as exports write it besides ISO-8601's own form: a space for the `T`
 * (`2026-03-01 10:15:00-05:00`), an offset of hours only (PostgreSQL's `…15:15:00+00`), a space
 * before the offset. In the ISO form the API takes, or null. These were refused as unreadable,
 * though they say their offset: an export of the chain's own database could not be imported.
 */
function exportedInstant(text: string): string | null {
  const m = exportedPattern.exec(text);
  if (!m) return null;
  const iso = `${m[1]}T${m[2]}${m[3]!.length === 3 ? `${m[3]}:00` : m[3]}`;
  return parseInstant(iso) ? iso : null;
}

/** Validates a basket's head (its first line). */
function basketHead(b: PendingBasket, timeZone: string): BasketHead {
  if (!b.txn || b.txn.length > 80) throw new RowError('txn', 'a transaction id of 1–80 characters is required');
  let storeId: number | null = null;
  if (b.store) {
    storeId = Number(b.store);
    if (!Number.isInteger(storeId) || storeId <= 0 || storeId > MAX_INT4) {
      throw new RowError('store', `a positive store number up to ${MAX_INT4}`);
    }
  }
  if (b.terminal.length > 40) throw new RowError('terminal', 'at most 40 characters');
  const ts = parseInstant(b.ts) ? b.ts : (exportedInstant(b.ts) ?? localToInstant(b.ts, timeZone));
  if (!ts) throw new RowError('ts', 'a date or date-time, e.g. 2026-11-24T10:15:00-05:00 or 2026-11-24 10:15');
  const at = parseInstant(ts);
  if (!at || !inRange(at.seconds * 1000)) throw new RowError('ts', 'outside 1900-01-01 … 9999-01-01');
  let member: BasketHead['member'] = null;
  if (b.card) {
    if (!cardPattern.test(b.card)) throw new RowError('card', '4–40 letters or digits');
    member = { kind: 'card', ref: b.card };
  } else if (b.member) {
    if (!memberPattern.test(b.member)) throw new RowError('member', 'letters, digits, _ or - (max 40)');
    member = { kind: 'number', ref: b.member };
  }
  return { storeId, terminalId: b.terminal, txnId: b.txn, ts, member };
}

/** Validates one line into the batch's rows. `gtins` caches raw → 14-digit GTIN. */
function addLine(rows: BasketRows, f: string[], ix: Record<BasketColumn, number>, gtins: Map<string, string>): void {
  const raw = field(f, ix.gtin);
  let gtin = gtins.get(raw);
  if (gtin === undefined) {
    const parsed = parseGtin(raw);
    if (!parsed.ok) throw new RowError('gtin', parsed.message);
    gtin = parsed.gtin;
    if (gtins.size >= 100_000) gtins.clear(); // memory stays flat on catalogues of any size
    gtins.set(raw, gtin);
  }
  const qty = field(f, ix.qty);
  if (!qtyPattern.test(qty)) throw new RowError('qty', QTY_RULE);
  const qtyMilli = Math.round(Number(qty) * 1000);
  if (qtyMilli === 0) throw new RowError('qty', QTY_RULE);
  const price = money(f, ix, 'priceCents', 'price');
  const discount = money(f, ix, 'discountCents', 'discount', true) ?? 0;
  // without a price, a discount's sign still follows the line's: a returned line has amount < 0
  const amount = price === null ? (qtyMilli < 0 ? -Infinity : Infinity) : lineAmountCents(qtyMilli / 1000, price);
  const problem = lineDiscountProblem(amount, discount);
  if (problem) throw new RowError(field(f, ix.discountCents) ? 'discountCents' : 'discount', problem);
  rows.addLine(gtin, qtyMilli, price, discount);
}

const QTY_RULE = 'a quantity with at most 3 decimals, not 0 (negative for a returned item)';

/**
 * Cents from a `*_cents` column, else from a decimal currency column; null when both are empty.
 * `signed`: may be negative (a returned line's discount given back).
 */
function money(
  f: string[],
  ix: Record<BasketColumn, number>,
  centsColumn: 'priceCents' | 'discountCents',
  decimalColumn: 'price' | 'discount',
  signed = false,
): number | null {
  const cents = field(f, ix[centsColumn]);
  const decimal = field(f, ix[decimalColumn]);
  if (cents) {
    if (!(signed ? signedCentsPattern : centsPattern).test(cents)) throw new RowError(centsColumn, signed ? 'whole cents, e.g. 349 or -50' : 'whole cents, e.g. 349');
    return Number(cents);
  }
  if (decimal) {
    if (!(signed ? signedMoneyPattern : moneyPattern).test(decimal)) throw new RowError(decimalColumn, signed ? 'an amount such as 3.49 or -0.50' : 'an amount such as 3.49');
    return Math.round(Number(decimal) * 100);
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Products and members: each row is validated by the API's own zod schema.

async function importRecords<K extends string, T, E = undefined>(
  chunks: Chunks,
  opts: ImportOptions,
  spec: {
    columns: Record<K, readonly string[]>;
    required: NoInfer<K>[][];
    schema: z.ZodType<T>;
    /** `has`: whether the file has a column for `k` (a column it lacks leaves a field out). */
    toObject: (get: (k: K) => string, has: (k: K) => boolean) => unknown;
    /** Values beside the schema's (e.g. names of categories to create). */
    extra?: (get: (k: K) => string) => E;
    /**
     * The column a schema path (e.g. `contact.email`) came from, or null; it is reported under the
     * file's header name for it (else by the path in snake case).
     */
    columnOf: (path: string, has: (k: K) => boolean) => K | null;
    write: (rows: T[], extras: E[]) => Promise<UpsertOutcome>;
  },
): Promise<ImportSummary> {
  const batchSize = opts.batchSize ?? 2_000;
  const summary: ImportSummary = { rows: 0, imported: 0, rejected: 0, ignoredColumns: [] };
  let columns: Partial<Record<K, number>> | null = null;
  let width = 0;
  let header: readonly string[] = [];
  let batch: { value: T; extra: E; record: CsvRecord }[] = [];
  const sink = rejectSink(opts, summary);
  const reject = sink.reject;
  const has = (k: K) => columns![k] !== undefined;
  const fieldOf = (path: string) => {
    const k = spec.columnOf(path, has);
    return (k === null ? undefined : headerName(header, columns![k])) ?? snake(path);
  };
  const flush = async () => {
    if (batch.length === 0) return;
    const outcome = await spec.write(
      batch.map((b) => b.value),
      batch.map((b) => b.extra),
    );
    summary.imported += outcome.upserted;
    // A row may be refused on several counts (e.g. a key repeated in the batch and an unknown
    // reference): it is one rejected row, reported with its first issue.
    const seen = new Set<number>();
    for (const r of outcome.rejected) {
      if (seen.has(r.index)) continue;
      seen.add(r.index);
      const record = batch[r.index]!.record;
      const issue = r.issues[0]!;
      reject({ line: record.line, field: fieldOf(issue.path), reason: issue.message, raw: record.raw });
    }
    batch = [];
    opts.onProgress?.(summary.rows);
  };
  for await (const record of withHeader(chunks)) {
    if (sink.due) await sink.wait();
    if (!columns) {
      const mapped = mapHeader(record.fields, spec.columns);
      requireColumns(mapped.columns, spec.required, spec.columns);
      summary.ignoredColumns = ignored(mapped.unknown);
      columns = mapped.columns;
      width = record.fields.length;
      header = record.fields;
      continue;
    }
    summary.rows++;
    if (record.fields.length !== width) {
      reject({ line: record.line, field: '(row)', reason: `expected ${width} fields, found ${record.fields.length}`, raw: record.raw });
      continue;
    }
    const unstorable = unstorableField(record, header);
    if (unstorable) {
      reject({ line: record.line, field: unstorable.field, reason: unstorable.reason, raw: record.raw });
      continue;
    }
    const get = (k: K) => {
      const i = columns![k];
      return i === undefined ? '' : (record.fields[i] ?? '').trim();
    };
    const parsed = spec.schema.safeParse(spec.toObject(get, has));
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      reject({ line: record.line, field: fieldOf(issue.path.join('.')), reason: issue.message, raw: record.raw });
      continue;
    }
    batch.push({ value: parsed.data, extra: spec.extra?.(get) as E, record });
    if (batch.length >= batchSize) await flush();
  }
  requireHeader(columns);
  await flush();
  await sink.wait();
  return summary;
}

const orNull = (text: string) => (text === '' ? null : text);
const intOrNull = (text: string) => (text === '' ? null : /^-?\d+$/.test(text) ? Number(text) : text);
const boolOrNull = (text: string) => {
  const t = text.toLowerCase();
  if (t === '') return null;
  if (['true', 't', 'yes', 'y', '1'].includes(t)) return true;
  if (['false', 'f', 'no', 'n', '0'].includes(t)) return false;
  return text;
};
const snake = (path: string) => path.split('.').pop()!.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The column of `spec` a schema path's last key names (`contact.email` → `email`), or null. */
function columnIn<K extends string>(spec: Record<K, readonly string[]>, path: string): K | null {
  const key = path.split('.').pop()!;
  return Object.hasOwn(spec, key) ? (key as K) : null;
}

const productColumns = {
  gtin: ['gtin', 'upc', 'ean'],
  name: ['name', 'description'],
  categoryId: ['category_id', 'category'],
  categoryName: ['category_name'],
  brand: ['brand'],
  brandType: ['brand_type'],
  manufacturerId: ['manufacturer_id', 'manufacturer'],
  manufacturerName: ['manufacturer_name'],
  size: ['size'],
  priceCents: ['price_cents'],
  price: ['price'],
} as const;
type ProductColumn = keyof typeof productColumns;

/**
 * Imports a product CSV. Categories and manufacturers named with a `*_name` column are created or
 * renamed on the way; a category id without a name must already exist.
 */
export async function importProducts(deps: Pick<Deps, 'db'>, chunks: Chunks, opts: ImportOptions): Promise<ImportSummary> {
  return importRecords(chunks, opts, {
    columns: productColumns,
    required: [['gtin'], ['name']],
    schema: Product,
    // a price given in currency is checked as priceCents
    columnOf: (path, has) => {
      const k = columnIn(productColumns, path);
      return k === 'priceCents' && !has('priceCents') ? 'price' : k;
    },
    // A column the file lacks leaves its field out (the stored value stays); an empty cell clears it.
    toObject: (get, has) => {
      const price = get('price');
      const optional = <T>(k: ProductColumn, value: T) => (has(k) ? value : undefined);
      return {
        gtin: get('gtin'),
        name: get('name'),
        categoryId: optional('categoryId', orNull(get('categoryId'))),
        brand: optional('brand', orNull(get('brand'))),
        brandType: optional('brandType', orNull(get('brandType'))),
        manufacturerId: optional('manufacturerId', orNull(get('manufacturerId'))),
        size: optional('size', orNull(get('size'))),
        priceCents:
          !has('priceCents') && !has('price')
            ? undefined
            : get('priceCents')
              ? intOrNull(get('priceCents'))
              : price && moneyPattern.test(price)
                ? Math.round(Number(price) * 100)
                : orNull(price),
      };
    },
    extra: (get) => ({ categoryName: get('categoryName'), manufacturerName: get('manufacturerName') }),
    write: async (rows, extras) => {
      const categories = new Map<string, string>();
      const manufacturers = new Map<string, string>();
      rows.forEach((r, i) => {
        const { categoryName, manufacturerName } = extras[i]!;
        if (r.categoryId && categoryName) categories.set(r.categoryId, categoryName);
        if (r.manufacturerId && manufacturerName) manufacturers.set(r.manufacturerId, manufacturerName);
      });
      if (categories.size) {
        await upsertCategories(deps, [...categories].map(([id, name]) => ({ id, name })), 'skip-bad-rows');
      }
      if (manufacturers.size) {
        await upsertManufacturers(deps, [...manufacturers].map(([id, name]) => ({ id, name })), 'skip-bad-rows');
      }
      return upsertProducts(deps, rows, 'skip-bad-rows');
    },
  });
}

const memberColumns = {
  memberNumber: ['member_number', 'member_id', 'member'],
  cardNumber: ['card_number', 'card'],
  homeStoreId: ['home_store_id', 'home_store'],
  householdSize: ['household_size'],
  hasDog: ['has_dog'],
  hasCat: ['has_cat'],
  hasBaby: ['has_baby'],
  enrolledOn: ['enrolled_on'],
  firstName: ['first_name'],
  lastName: ['last_name'],
  email: ['email'],
  phone: ['phone'],
  postalCode: ['postal_code', 'zip'],
} as const;
type MemberColumn = keyof typeof memberColumns;

/** Imports a member CSV (registering cards first seen in baskets); contact data goes apart. */
export async function importMembers(deps: Pick<Deps, 'db' | 'clock'>, chunks: Chunks, opts: ImportOptions): Promise<ImportSummary> {
  return importRecords(chunks, opts, {
    columns: memberColumns,
    required: [['memberNumber']],
    schema: Member,
    columnOf: (path) => columnIn(memberColumns, path),
    // A contact column the file lacks leaves that field out (the stored value stays).
    toObject: (get, has) => {
      const optional = (k: MemberColumn) => (has(k) ? orNull(get(k)) : undefined);
      const contact = {
        firstName: optional('firstName'),
        lastName: optional('lastName'),
        email: optional('email'),
        phone: optional('phone'),
        postalCode: optional('postalCode'),
      };
      return {
        memberNumber: get('memberNumber'),
        cardNumber: orNull(get('cardNumber')),
        homeStoreId: intOrNull(get('homeStoreId')),
        householdSize: intOrNull(get('householdSize')),
        hasDog: boolOrNull(get('hasDog')),
        hasCat: boolOrNull(get('hasCat')),
        hasBaby: boolOrNull(get('hasBaby')),
        enrolledOn: orNull(get('enrolledOn')),
        contact: Object.values(contact).some((v) => v !== null && v !== undefined) ? contact : null,
      };
    },
    write: (rows) => upsertMembers(deps, rows, 'skip-bad-rows'),
  });
}
