import { sql, type RawBuilder } from 'kysely';
import { textArray, withTx, type BasketSource, type CopyIn, type Db, type Tx } from '../db/index.ts';
import type { Deps } from '../deps.ts';
import { md5HexBytes } from '../lib/md5.ts';
import { roundThousandths } from '../lib/money.ts';
import { epochText, parseInstant } from '../lib/time.ts';
import type { IngestOutcome } from './ingest-baskets.ts';

/**
 * The bulk write of baskets, shared by every source (POS API, CSV import, checkout). One
 * transaction per call, a fixed handful of statements whatever its size:
 *
 *   1. which of the named stores exist (baskets of unknown stores are rejected, nothing written);
 *   2. one statement inserts the new terminals, cards, member numbers and GTINs (placeholder
 *      products) and returns the member id of every card and number and whether each GTIN is
 *      described by the catalogue;
 *   3. the content hash of every basket, computed here (see `contentHash`);
 *   4. the baskets, `insert … select from unnest(…) on conflict do nothing returning id`;
 *   5. the lines of the baskets just created go straight into basket_lines: by COPY on the
 *      transaction's own connection where the driver has it (`deps.copyTx`: postgres.js
 *      `COPY … FROM STDIN`, PGlite `COPY … FROM '/dev/blob'`), else `insert … from unnest`
 *      (Workers, or inside a caller's transaction such as a checkout commit);
 *   6. for keys already taken, the stored basket's id and hash: same hash → duplicate; else, if
 *      the basket names by card a member other than the stored one, and member_cards says the
 *      stored member held that card at the basket's instant (read only then), the hash is taken
 *      with the stored member (a card re-issued since); then, if its stored lines are the same
 *      lines in another order (read only then) → duplicate; else conflict.
 *
 * Why this shape: storing the lines is the one cost no path avoids (a COPY of final rows into a
 * table with basket_lines' key takes about twice a plain COPY); every line that went through a
 * staging table first was written twice and sorted and aggregated again for its hash in SQL.
 *
 * Concurrency: rows are inserted in sorted order (terminals, cards, numbers, GTINs, baskets by key),
 * so concurrent writers wait on each other instead of deadlocking; a row another writer committed
 * while we waited is read back by a second statement (each statement of READ COMMITTED sees what
 * was committed before it started).
 */
export interface BasketHead {
  /** null only for history imports that do not say which store. */
  storeId: number | null;
  /** '' when the source has no terminal. */
  terminalId: string;
  txnId: string;
  /** ISO-8601 instant with offset or Z, already validated (`parseInstant` accepts it). */
  ts: string;
  member: { kind: 'card' | 'number'; ref: string } | null;
}

/**
 * Baskets with distinct keys and their lines, the lines column-wise (a batch of 20,000 lines is
 * four arrays, not 20,000 objects). Lines of basket i are `lineStart[i]` up to `lineStart[i + 1]`
 * (or the end). Every basket has at least one line.
 */
export class BasketRows {
  readonly heads: BasketHead[] = [];
  readonly lineStart: number[] = [];
  readonly gtin: string[] = [];
  /** Quantity in thousandths: numeric(12, 3) exactly. */
  readonly qtyMilli: number[] = [];
  readonly priceCents: (number | null)[] = [];
  readonly discountCents: number[] = [];

  get count(): number {
    return this.heads.length;
  }

  get lineCount(): number {
    return this.gtin.length;
  }

  addBasket(head: BasketHead): void {
    this.heads.push(head);
    this.lineStart.push(this.gtin.length);
  }

  addLine(gtin: string, qtyMilli: number, priceCents: number | null, discountCents: number): void {
    this.gtin.push(gtin);
    this.qtyMilli.push(qtyMilli);
    this.priceCents.push(priceCents);
    this.discountCents.push(discountCents);
  }

  /** Forgets the last basket and its lines (a line of it turned out invalid). */
  dropLast(): void {
    const start = this.lineStart.pop()!;
    this.heads.pop();
    for (const column of [this.gtin, this.qtyMilli, this.priceCents, this.discountCents]) column.length = start;
  }

  lineEnd(i: number): number {
    return i + 1 < this.lineStart.length ? this.lineStart[i + 1]! : this.gtin.length;
  }
}

/**
 * What a writer has already resolved, so that later writes need not look it up again: member ids
 * by card or member number, whether each GTIN is described by the catalogue, the terminals that
 * exist. Filled only from committed writes (a rolled-back write may have created the rows it
 * resolved). Two kinds:
 *
 * - `forRun`, one file's importer, for the length of the run: everything. There, looking the same
 *   2,000 cards and 1,000 GTINs up again for every batch was a quarter of the database's time.
 *   Consequences, accepted for one run: a card re-assigned to another member during the run keeps
 *   its first member, and a GTIN described by a concurrent product import is counted as unknown if
 *   it was unknown when first met.
 * - `lasting`, the POS API's, for the life of the process: only what can never change — terminals
 *   (never deleted) and GTINs the catalogue describes (products are never deleted, and a described
 *   product never goes back to unknown). Cards are looked up every time (a card may be re-assigned),
 *   and so are placeholder GTINs (the catalogue may describe them any moment). Looking up a batch's
 *   ~700 GTINs was 40% of PostgreSQL's time per POST of 100 baskets.
 */
export class ReferenceCache {
  readonly members = new Map<string, number>();
  readonly gtins = new Map<string, boolean>();
  readonly terminals = new Set<string>();

  private constructor(
    private readonly limit: number,
    private readonly everything: boolean,
  ) {}

  static forRun(limit = 1_000_000): ReferenceCache {
    return new ReferenceCache(limit, true);
  }

  static lasting(limit = 200_000): ReferenceCache {
    return new ReferenceCache(limit, false);
  }

  add(resolved: References): void {
    // memory stays flat on chains of any size: start over rather than grow without bound
    if (this.everything) {
      if (this.members.size + resolved.memberIds.size > this.limit) this.members.clear();
      for (const [k, v] of resolved.memberIds) this.members.set(k, v);
    }
    if (this.gtins.size + resolved.known.size > this.limit) this.gtins.clear();
    for (const [k, v] of resolved.known) if (v || this.everything) this.gtins.set(k, v);
    if (this.terminals.size + resolved.terminals.length > this.limit) this.terminals.clear();
    for (const t of resolved.terminals) this.terminals.add(t);
  }
}

interface References {
  /** Member id by `refKey(kind, ref)`. */
  memberIds: Map<string, number>;
  /** GTIN → described by the catalogue. */
  known: Map<string, boolean>;
  /** `store\u0000terminal` of the terminals ensured. */
  terminals: string[];
}

export interface WriteOptions {
  /** `per-basket` fills each outcome's unknownGtins; `distinct` only the result's. */
  unknownGtins: 'per-basket' | 'distinct';
  cache?: ReferenceCache;
}

export interface WriteResult {
  /** One outcome per basket, in order. */
  outcomes: IngestOutcome[];
  /** Distinct unknown GTINs of the baskets that were created or duplicates. */
  unknownGtins: string[];
}

const LINE_COLUMNS = ['member_id', 'basket_id', 'line_no', 'gtin', 'qty', 'unit_price_cents', 'line_discount_cents'] as const;

/**
 * Writes baskets in one transaction (see above). Invariants: a basket lands whole or not at all;
 * a key stored with the same content is a `duplicate` returning the stored id, with other content a
 * `conflict`, and either writes nothing; unknown cards create unregistered members, unknown GTINs
 * placeholder products (`known = false`), reported in `unknownGtins` (per basket; the distinct ones
 * in the result). Retries on deadlock or serialization failure.
 */
export async function writeBaskets(
  deps: Pick<Deps, 'db'> & Partial<Pick<Deps, 'copyTx'>>,
  rows: BasketRows,
  source: BasketSource,
  opts: WriteOptions = { unknownGtins: 'per-basket' },
): Promise<WriteResult> {
  // COPY only outside a caller's transaction, only into the database it belongs to, and only for
  // enough lines to pay for its extra round trip (see COPY_MIN_LINES).
  const copyTx =
    deps.copyTx && deps.copyTx.db === deps.db && rows.gtin.length >= COPY_MIN_LINES ? deps.copyTx : null;
  const inTx = !copyTx && deps.db.isTransaction;
  // Conflicts found by a write of our own are rolled back with it and written again without them
  // (see ConflictsFound); in a caller's transaction, the caller refuses the conflict and rolls back.
  const conflicts: Conflicts = { known: new Map(), rollBack: !inTx };
  for (;;) {
    try {
      const { result, resolved } = await retryOnDeadlock(() =>
        copyTx
          ? copyTx((tx, copyIn) => write(tx, { copyIn, direct: copyTx.copyIntoIndexed }, rows, source, opts, conflicts))
          : withTx(deps.db, (tx) => write(tx, null, rows, source, opts, conflicts)),
      );
      // Committed now (a caller's transaction is not: its refs are not cached).
      if (opts.cache && !inTx) opts.cache.add(resolved);
      return result;
    } catch (err) {
      if (!(err instanceof ConflictsFound)) throw err;
      // Each round leaves out more baskets, so this ends.
      for (const [i, outcome] of err.outcomes) conflicts.known.set(i, outcome);
    }
  }
}

/** Baskets already known to conflict (left out of the write), and whether new ones roll it back. */
interface Conflicts {
  known: Map<number, IngestOutcome>;
  rollBack: boolean;
}

/**
 * Thrown (rolling the write back) when baskets turn out to conflict with stored ones: the
 * terminals, cards and placeholder products resolved for them were inserted before their keys
 * were found taken, and a refused basket must leave nothing behind. Conflicts are rare (a POS
 * reusing a txn id for other content); the write runs again without them.
 */
class ConflictsFound extends Error {
  constructor(readonly outcomes: Map<number, IngestOutcome>) {
    super('baskets conflict with stored ones');
  }
}

/**
 * Below this many lines a write inserts its lines from arrays in one statement rather than by COPY:
 * COPY takes two round trips and three writes to the server (the statement, the data, its end)
 * against one and one, which for a POS posting one basket of a dozen lines was the larger cost.
 *
 * Above it COPY stays the cheaper way in, though each COPY statement has a fixed cost on the
 * server: PostgreSQL 15 spent about 1.6–2 ms of backend CPU per COPY whatever its size (perf's top
 * backend symbols: ResourceOwnerRememberTupleDesc, MakeTupleTableSlot — COPY sets up a tuple slot
 * per buffered row, up to 1,000, in every statement). Measured with 1,043,397 basket_lines rows
 * into a table of its shape with its key (backend CPU from /proc): one COPY 2.25 s; COPYs of 1,250
 * lines (a POST of 100 baskets) 3.88 s; `insert … from unnest` of the same 1,250-line chunks
 * 4.41 s against 2.77 s for COPY in the same run. So a POS batch costs the server about 1.7× per
 * line what an import's 20,000-line batch does, and unnest would cost more.
 */
export const COPY_MIN_LINES = 200;

/** Runs `fn` again when PostgreSQL aborted it as deadlocked or unserializable. */
export async function retryOnDeadlock<T>(fn: () => Promise<T>, attempts = 4): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (attempt >= attempts || (code !== '40P01' && code !== '40001')) throw err;
    }
  }
}

/** A basket's idempotency key (store, terminal, txn) as one string. */
export const basketKey = (storeId: number | null, terminalId: string, txnId: string) => `${storeId ?? ''}\u0000${terminalId}\u0000${txnId}`;
const keyOf = (h: BasketHead) => basketKey(h.storeId, h.terminalId, h.txnId);
const terminalKey = (storeId: number, terminalId: string) => `${storeId}\u0000${terminalId}`;
const refKey = (kind: 'card' | 'number', ref: string) => `${kind}\u0000${ref}`;

/** How lines get in: COPY straight into basket_lines, COPY through a temp table, or (null) unnest. */
type LineCopy = { copyIn: CopyIn; direct: boolean } | null;

async function write(
  tx: Tx,
  copy: LineCopy,
  rows: BasketRows,
  source: BasketSource,
  opts: WriteOptions,
  known: Conflicts = { known: new Map(), rollBack: false },
): Promise<{ result: WriteResult; resolved: References }> {
  const nothing: References = { memberIds: new Map(), known: new Map(), terminals: [] };
  const n = rows.count;
  const outcomes: IngestOutcome[] = new Array(n);

  // 1. Stores (of the baskets not known to conflict).
  let live = Array.from({ length: n }, (_, i) => i);
  if (known.known.size > 0) {
    for (const [i, outcome] of known.known) outcomes[i] = outcome;
    live = live.filter((i) => !known.known.has(i));
    if (live.length === 0) return { result: { outcomes, unknownGtins: [] }, resolved: nothing };
  }
  const storeIds = [...new Set(live.flatMap((i) => (rows.heads[i]!.storeId === null ? [] : [rows.heads[i]!.storeId!])))];
  if (storeIds.length > 0) {
    const { rows: found } = await sql<{ id: number }>`
      select id from stores where id = any(${textArray(storeIds)}::int[])`.execute(tx);
    const known = new Set(found.map((r) => Number(r.id)));
    if (known.size < storeIds.length) {
      live = live.filter((i) => {
        const store = rows.heads[i]!.storeId;
        if (store === null || known.has(store)) return true;
        outcomes[i] = {
          status: 'rejected',
          basketId: null,
          unknownGtins: [],
          issues: [{ path: 'storeId', message: `unknown store ${store}` }],
        };
        return false;
      });
      if (live.length === 0) return { result: { outcomes, unknownGtins: [] }, resolved: nothing };
    }
  }

  // 2. Terminals, members, products.
  const terminals = new Map<string, [number, string]>();
  const cards = new Set<string>();
  const numbers = new Set<string>();
  const gtins = new Set<string>();
  // What the cache knows is copied now: another write of the same import may add to it (and
  // clear it, at its size limit) while this one waits on the database.
  const cache = opts.cache;
  const cachedMembers = new Map<string, number>();
  const cachedKnown = new Map<string, boolean>();
  for (const i of live) {
    const h = rows.heads[i]!;
    if (h.storeId !== null && h.terminalId !== '') {
      const t = terminalKey(h.storeId, h.terminalId);
      if (!cache?.terminals.has(t)) terminals.set(t, [h.storeId, h.terminalId]);
    }
    if (h.member) {
      const key = refKey(h.member.kind, h.member.ref);
      const id = cache?.members.get(key);
      if (id !== undefined) cachedMembers.set(key, id);
      else (h.member.kind === 'card' ? cards : numbers).add(h.member.ref);
    }
    for (let l = rows.lineStart[i]!, end = rows.lineEnd(i); l < end; l++) gtins.add(rows.gtin[l]!);
  }
  const uncachedGtins: string[] = [];
  for (const g of gtins) {
    const known = cache?.gtins.get(g);
    if (known === undefined) uncachedGtins.push(g);
    else cachedKnown.set(g, known);
  }
  const resolved = await resolveReferences(tx, {
    terminals: [...terminals.values()].sort((a, b) => a[0] - b[0] || compare(a[1], b[1])),
    cards: [...cards].sort(compare),
    numbers: [...numbers].sort(compare),
    gtins: uncachedGtins.sort(compare),
  });

  const memberId = (key: string) => resolved.memberIds.get(key) ?? cachedMembers.get(key)!;
  const isKnown = (gtin: string) => resolved.known.get(gtin) ?? cachedKnown.get(gtin) ?? false;

  // 3. Content hashes and totals.
  const memberOf = (h: BasketHead) => (h.member ? memberId(refKey(h.member.kind, h.member.ref)) : 0);
  const hashes: string[] = new Array(n);
  const ins = { member: [] as number[], store: [] as (number | null)[], terminal: [] as string[], txn: [] as string[], ts: [] as string[], total: [] as number[], lines: [] as number[], hash: [] as string[] };
  for (const i of live) {
    const h = rows.heads[i]!;
    const member = memberOf(h);
    const start = rows.lineStart[i]!;
    const end = rows.lineEnd(i);
    let total = 0;
    for (let l = start; l < end; l++) {
      const price = rows.priceCents[l];
      if (price !== null && price !== undefined) total += roundThousandths(rows.qtyMilli[l]! * price);
      total -= rows.discountCents[l]!;
    }
    hashes[i] = contentHash(rows, i, member);
    ins.member.push(member);
    ins.store.push(h.storeId);
    ins.terminal.push(h.terminalId);
    ins.txn.push(h.txnId);
    ins.ts.push(h.ts);
    ins.total.push(total);
    ins.lines.push(end - start);
    ins.hash.push(hashes[i]!);
  }

  // 4. Baskets, in key order (the lock order of concurrent writers).
  const { rows: inserted } = await sql<{ id: string | number; store_id: number | null; terminal_id: string; txn_id: string }>`
    insert into baskets (member_id, store_id, terminal_id, txn_id, ts, total_cents, line_count, content_hash, source)
    select s.member_id, s.store_id, s.terminal_id, s.txn_id, s.ts, s.total_cents, s.line_count, s.content_hash, ${source}
    from unnest(${textArray(ins.member)}::bigint[], ${textArray(ins.store)}::int[], ${textArray(ins.terminal)}::text[],
                ${textArray(ins.txn)}::text[], ${textArray(ins.ts)}::timestamptz[], ${textArray(ins.total)}::bigint[],
                ${textArray(ins.lines)}::int[], ${textArray(ins.hash)}::text[])
      as s(member_id, store_id, terminal_id, txn_id, ts, total_cents, line_count, content_hash)
    order by s.store_id, s.terminal_id, s.txn_id
    on conflict (store_id, terminal_id, txn_id) do nothing
    returning id, store_id, terminal_id, txn_id`.execute(tx);
  const createdByKey = new Map<string, number>();
  for (const r of inserted) createdByKey.set(basketKey(r.store_id, r.terminal_id, r.txn_id), Number(r.id));

  // 5. Lines of the created baskets.
  const created: { i: number; id: number; member: number }[] = [];
  const taken: number[] = [];
  for (const i of live) {
    const id = createdByKey.get(keyOf(rows.heads[i]!));
    if (id === undefined) taken.push(i);
    else {
      created.push({ i, id, member: memberOf(rows.heads[i]!) });
      outcomes[i] = { status: 'created', basketId: id, unknownGtins: [], issues: [] };
    }
  }
  if (created.length > 0) await insertLines(tx, copy, rows, created);

  // 6. Keys already taken: a duplicate (same hash) or a conflict.
  const conflicts = new Set<number>();
  if (taken.length > 0) {
    const stored = await storedBaskets(tx, taken.map((i) => rows.heads[i]!));
    // A card re-issued since the basket was stored names another member now: the basket is
    // hashed again with the stored member, if the card was that member's at the basket's instant.
    const heldThen = await cardsHeldThen(tx, rows, hashDiffers(taken, stored, hashes), memberOf);
    for (const [i, member] of heldThen) hashes[i] = contentHash(rows, i, member);
    const memberNow = (i: number) => heldThen.get(i) ?? memberOf(rows.heads[i]!);
    const reordered = await sameLinesReordered(tx, rows, hashDiffers(taken, stored, hashes), memberNow);
    taken.forEach((i, k) => {
      const hit = stored.get(k);
      if (!hit) throw new Error(`basket key of batch row ${i} neither inserted nor found`);
      if (hit.hash === hashes[i] || reordered.has(i)) {
        outcomes[i] = { status: 'duplicate', basketId: hit.id, unknownGtins: [], issues: [] };
      } else {
        conflicts.add(i);
        outcomes[i] = {
          status: 'conflict',
          basketId: hit.id,
          unknownGtins: [],
          issues: [{ path: 'txnId', message: 'this (store, terminal, txn) is already stored with other content' }],
        };
      }
    });
  }

  if (conflicts.size > 0 && known.rollBack) {
    throw new ConflictsFound(new Map([...conflicts].map((i) => [i, outcomes[i]!])));
  }

  // Unknown GTINs: those of stored baskets, not of conflicting ones (nothing of theirs is stored).
  const unknown = new Set<string>();
  const perBasket = opts.unknownGtins === 'per-basket';
  if (!perBasket && conflicts.size === 0) {
    // every line of the batch is stored: its distinct GTINs are the ones to look at
    for (const g of gtins) if (!isKnown(g)) unknown.add(g);
    return { result: { outcomes, unknownGtins: [...unknown] }, resolved };
  }
  for (const i of live) {
    if (conflicts.has(i)) continue;
    let mine: Set<string> | null = null;
    for (let l = rows.lineStart[i]!, end = rows.lineEnd(i); l < end; l++) {
      const g = rows.gtin[l]!;
      if (isKnown(g)) continue;
      unknown.add(g);
      if (perBasket) (mine ??= new Set()).add(g);
    }
    if (mine) outcomes[i]!.unknownGtins = [...mine].sort(compare);
  }
  return { result: { outcomes, unknownGtins: [...unknown] }, resolved };
}

/**
 * The content hash covers key, instant, member and every line in order, so a retry matches it
 * exactly, whichever source (API or CSV) stored the basket first:
 *
 *   md5(store | terminal | txn | epoch seconds (6 decimals) | member id | gtin:qty:price:discount,…)
 *
 * with qty to 3 decimals and an empty price when there is none. This is exactly the text the
 * earlier SQL computed (`concat_ws('|', …, extract(epoch from ts)::text, …, string_agg(…))`), so
 * hashes stored before stay valid; test/ingest/content-hash.test.ts recomputes it in SQL.
 */
function contentHash(rows: BasketRows, i: number, memberId: number): string {
  const h = rows.heads[i]!;
  const at = parseInstant(h.ts);
  if (!at) throw new Error(`basket ${h.txnId}: unreadable instant ${h.ts}`);
  // Written as bytes into one reused buffer: no string per line (see AsciiBuffer).
  const b = hashInput;
  b.reset();
  if (h.storeId !== null) b.int(h.storeId);
  b.byte(PIPE);
  b.utf8(h.terminalId);
  b.byte(PIPE);
  b.utf8(h.txnId);
  b.byte(PIPE);
  b.ascii(epochText(at));
  b.byte(PIPE);
  b.int(memberId);
  b.byte(PIPE);
  for (let l = rows.lineStart[i]!, start = l, end = rows.lineEnd(i); l < end; l++) {
    if (l > start) b.byte(COMMA);
    writeLine(b, rows, l, COLON);
  }
  return md5HexBytes(b.view());
}

/**
 * A line's `gtin`, quantity (3 decimals), unit price (empty when none) and discount, `sep` between:
 * the same fields in the content hash (`:`) and in the COPY text of basket_lines (`,`).
 */
function writeLine(b: AsciiBuffer, rows: BasketRows, l: number, sep: number): void {
  b.ascii(rows.gtin[l]!);
  b.byte(sep);
  b.milli(rows.qtyMilli[l]!);
  b.byte(sep);
  const price = rows.priceCents[l];
  if (price !== null && price !== undefined) b.int(price);
  b.byte(sep);
  b.int(rows.discountCents[l]!);
}

// Code-unit order; PostgreSQL's order of the same texts may differ, which only matters for lock
// order, and every writer uses this same order.
const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

async function resolveReferences(
  tx: Tx,
  refs: { terminals: [number, string][]; cards: string[]; numbers: string[]; gtins: string[] },
): Promise<References> {
  const memberIds = new Map<string, number>();
  const known = new Map<string, boolean>();
  const terminals = refs.terminals.map(([store, id]) => terminalKey(store, id));
  if (terminals.length + refs.cards.length + refs.numbers.length + refs.gtins.length === 0) {
    return { memberIds, known, terminals };
  }
  const take = (r: { k: string; ref: string; id: string | number | null; known: boolean }) => {
    if (r.k === 'g') known.set(r.ref, r.known);
    else memberIds.set(refKey(r.k === 'c' ? 'card' : 'number', r.ref), Number(r.id));
  };
  // Existing rows are found first and only the missing ones inserted: an `insert … on conflict do
  // nothing` of a row that exists costs a speculative insertion, several times an index probe.
  // Arrays are joined (`unnest($1) join …`), never filtered with `= any($1)`: postgres.js
  // prepares statements, and in the generic plan PostgreSQL switches to after five runs `= any` of a
  // parameter is a linear search of the array for every row of the table (0.6 ms → 53 ms a batch).
  const cards = textArray(refs.cards);
  const numbers = textArray(refs.numbers);
  const gtins = sql`${textArray(refs.gtins)}::char(14)[]`; // char(14)[], or the key index is not used
  const { rows: found } = await sql<{ k: string; ref: string; id: string | number | null; known: boolean }>`
    with t as (
      insert into terminals (store_id, id)
      select s.store_id, s.id
      from unnest(${textArray(refs.terminals.map((t) => t[0]))}::int[], ${textArray(refs.terminals.map((t) => t[1]))}::text[]) as s(store_id, id)
      where not exists (select 1 from terminals x where x.store_id = s.store_id and x.id = s.id)
      order by 1, 2
      on conflict do nothing
    ), ${memberCtes('cf', 'c', 'card_number', cards)}
    ), ${memberCtes('nf', 'n', 'member_number', numbers)}
    ), pf as (
      select p.gtin, p.known from unnest(${gtins}) as w(gtin) join products p on p.gtin = w.gtin
    ), p as (
      insert into products (gtin, known)
      select w.gtin, false from unnest(${gtins}) as w(gtin)
      where not exists (select 1 from products x where x.gtin = w.gtin)
      order by 1
      on conflict (gtin) do nothing
      returning gtin
    )
    select 'c' as k, ref, id, false as known from cf
    union all select 'c', ref, id, false from c
    union all select 'n', ref, id, false from nf
    union all select 'n', ref, id, false from n
    union all select 'g', gtin, null, known from pf
    union all select 'g', gtin, null, false from p
  `.execute(tx);
  for (const r of found) take(r);
  // What a concurrent writer committed while our inserts waited is not in that statement's
  // snapshot: read it now.
  const missingCards = refs.cards.filter((c) => !memberIds.has(refKey('card', c)));
  const missingNumbers = refs.numbers.filter((c) => !memberIds.has(refKey('number', c)));
  const missingGtins = refs.gtins.filter((g) => !known.has(g));
  if (missingCards.length + missingNumbers.length + missingGtins.length > 0) {
    const { rows: late } = await sql<{ k: string; ref: string; id: string | number | null; known: boolean }>`
      select 'c' as k, w.ref, m.id, false as known
      from unnest(${textArray(missingCards)}::text[]) as w(ref) join members m on m.card_number = w.ref
      union all select 'n', w.ref, m.id, false
      from unnest(${textArray(missingNumbers)}::text[]) as w(ref) join members m on m.member_number = w.ref
      union all select 'g', p.gtin, null, p.known
      from unnest(${textArray(missingGtins)}::char(14)[]) as w(gtin) join products p on p.gtin = w.gtin
    `.execute(tx);
    for (const r of late) take(r);
    if (
      missingCards.some((c) => !memberIds.has(refKey('card', c))) ||
      missingNumbers.some((c) => !memberIds.has(refKey('number', c))) ||
      missingGtins.some((g) => !known.has(g))
    ) {
      throw new Error('basket references neither inserted nor found');
    }
  }
  return { memberIds, known, terminals };
}

/** Members found by card or member number (`found`), and those inserted as unregistered (`inserted`). */
function memberCtes(found: string, inserted: string, column: 'card_number' | 'member_number', refs: RawBuilder<unknown>) {
  const col = sql.ref(column);
  return sql`${sql.raw(found)} as (
      select m.id, w.ref from unnest(${refs}) as w(ref) join members m on m.${col} = w.ref
    ), ${sql.raw(inserted)} as (
      insert into members (${col}, status)
      select w.ref, 'unregistered' from unnest(${refs}) as w(ref)
      where not exists (select 1 from members x where x.${col} = w.ref)
      order by 1
      on conflict (${col}) do nothing
      returning id, ${col} as ref${
    column === 'card_number'
      ? // A card first met here opens its history: from '-infinity' (this basket and any older one
        // imported from history are the new member's), or, for a card a member gave up earlier,
        // from the end of its last period. Only new cards pay for it.
        sql`
    ), ${sql.raw(inserted)}_held as (
      insert into member_cards (member_id, card_number, from_at)
      select i.id, i.ref,
             coalesce((select max(h.to_at) from member_cards h where h.card_number = i.ref), '-infinity')
      from ${sql.raw(inserted)} i`
      : sql``
  }`;
}

async function insertLines(tx: Tx, copy: LineCopy, rows: BasketRows, created: { i: number; id: number; member: number }[]): Promise<void> {
  if (copy) {
    // GTINs are digits, quantities and cents numbers: nothing to quote, all ASCII. Written as
    // bytes: a million template strings, joined and then encoded, were a sixth of an import's CPU.
    const csv = new AsciiBuffer(rows.lineCount * 48);
    for (const { i, id, member } of created) {
      for (let l = rows.lineStart[i]!, end = rows.lineEnd(i), no = 1; l < end; l++, no++) {
        csv.int(member);
        csv.byte(COMMA);
        csv.int(id);
        csv.byte(COMMA);
        csv.int(no);
        csv.byte(COMMA);
        writeLine(csv, rows, l, COMMA);
        csv.byte(NEWLINE);
      }
    }
    if (copy.direct) {
      await copy.copyIn('basket_lines', LINE_COLUMNS, csv.view());
      return;
    }
    // emptied at commit: no WAL, no dead rows
    await sql`create temp table if not exists ingest_lines (like basket_lines including defaults) on commit delete rows`.execute(tx);
    await copy.copyIn('ingest_lines', LINE_COLUMNS, csv.view());
    await sql`insert into basket_lines select * from ingest_lines`.execute(tx);
    return;
  }
  const cols = { member: [] as number[], basket: [] as number[], no: [] as number[], gtin: [] as string[], qtyMilli: [] as number[], price: [] as (number | null)[], discount: [] as number[] };
  for (const { i, id, member } of created) {
    for (let l = rows.lineStart[i]!, end = rows.lineEnd(i), no = 1; l < end; l++, no++) {
      cols.member.push(member);
      cols.basket.push(id);
      cols.no.push(no);
      cols.gtin.push(rows.gtin[l]!);
      cols.qtyMilli.push(rows.qtyMilli[l]!);
      cols.price.push(rows.priceCents[l] ?? null);
      cols.discount.push(rows.discountCents[l]!);
    }
  }
  // quantities travel as integer thousandths and are divided in SQL: exact, and one way to print them
  await sql`
    insert into basket_lines (member_id, basket_id, line_no, gtin, qty, unit_price_cents, line_discount_cents)
    select s.member_id, s.basket_id, s.line_no, s.gtin, s.qty_milli / 1000.0, s.price, s.discount
    from unnest(${textArray(cols.member)}::bigint[], ${textArray(cols.basket)}::bigint[], ${textArray(cols.no)}::int[],
                ${textArray(cols.gtin)}::char(14)[], ${textArray(cols.qtyMilli)}::bigint[], ${textArray(cols.price)}::int[],
                ${textArray(cols.discount)}::int[]) as s(member_id, basket_id, line_no, gtin, qty_milli, price, discount)`.execute(tx);
}

const COMMA = 44;
const NEWLINE = 10;
const PIPE = 124;
const COLON = 58;
const encoder = new TextEncoder();

/** ASCII text written straight into bytes (numbers without a string per number). */
export class AsciiBuffer {
  private bytes: Uint8Array;
  private length = 0;

  constructor(capacity = 1024) {
    this.bytes = new Uint8Array(Math.max(64, capacity));
  }

  private room(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + n));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  byte(code: number): void {
    this.room(1);
    this.bytes[this.length++] = code;
  }

  /** Characters below 128 only (digits, here). */
  ascii(text: string): void {
    this.room(text.length);
    for (let i = 0; i < text.length; i++) this.bytes[this.length++] = text.charCodeAt(i);
  }

  /** A safe integer in decimal. */
  int(n: number): void {
    this.room(17);
    if (n < 0) {
      this.bytes[this.length++] = 45; // '-'
      n = -n;
    }
    let digits = 1;
    for (let m = n; m >= 10; m = Math.floor(m / 10)) digits++;
    let p = this.length + digits;
    this.length = p;
    do {
      const q = Math.floor(n / 10);
      this.bytes[--p] = 48 + (n - q * 10);
      n = q;
    } while (n > 0);
  }

  /** Thousandths as numeric(12, 3) prints them (`2.000`, `-0.250`). */
  milli(milli: number): void {
    if (milli < 0) this.byte(45);
    const abs = Math.abs(milli);
    const units = Math.floor(abs / 1000);
    const frac = abs - units * 1000;
    this.int(units);
    this.room(4);
    this.bytes[this.length++] = 46; // '.'
    this.bytes[this.length++] = 48 + Math.floor(frac / 100);
    this.bytes[this.length++] = 48 + (Math.floor(frac / 10) % 10);
    this.bytes[this.length++] = 48 + (frac % 10);
  }

  /** Any text, as UTF-8. */
  utf8(text: string): void {
    this.room(text.length * 3);
    this.length += encoder.encodeInto(text, this.bytes.subarray(this.length)).written;
  }

  reset(): void {
    this.length = 0;
  }

  view(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
}

const hashInput = new AsciiBuffer(1024);

/**
 * The taken baskets (positions in `rows`) whose hash differs from the stored one only because
 * their lines come in another order: the same lines, read back in the stored order, give the
 * stored hash. A POS that rebuilds a retry from its journal, or an export sorted by GTIN, sends
 * the same basket; it was a conflict. Only baskets whose hash differs are read (rare).
 */
async function sameLinesReordered(
  tx: Tx,
  rows: BasketRows,
  candidates: HashDiffers[],
  memberOf: (i: number) => number,
): Promise<Set<number>> {
  const lineKey = (gtin: string, qtyMilli: number, price: number | null | undefined, discount: number) =>
    `${gtin}:${qtyMilli}:${price ?? ''}:${discount}`;
  const same = new Set<number>();
  if (candidates.length === 0) return same;
  const { rows: lines } = await sql<{ basket_id: string | number; gtin: string; qty_milli: string | number; price: number | null; discount: number }>`
    select l.basket_id, l.gtin, (l.qty * 1000)::bigint as qty_milli, l.unit_price_cents as price, l.line_discount_cents as discount
    from unnest(${textArray(candidates.map((c) => c.hit.memberId))}::bigint[], ${textArray(candidates.map((c) => c.hit.id))}::bigint[]) as w(member_id, basket_id)
    join basket_lines l on l.member_id = w.member_id and l.basket_id = w.basket_id
    order by l.basket_id, l.line_no`.execute(tx);
  const byBasket = new Map<number, typeof lines>();
  for (const l of lines) {
    const id = Number(l.basket_id);
    let list = byBasket.get(id);
    if (!list) byBasket.set(id, (list = []));
    list.push(l);
  }
  for (const { i, hit } of candidates) {
    const storedLines = byBasket.get(hit.id) ?? [];
    const start = rows.lineStart[i]!;
    const end = rows.lineEnd(i);
    if (storedLines.length !== end - start) continue;
    const mine: string[] = [];
    for (let l = start; l < end; l++) mine.push(lineKey(rows.gtin[l]!, rows.qtyMilli[l]!, rows.priceCents[l], rows.discountCents[l]!));
    const theirs = storedLines.map((l) => lineKey(l.gtin, Number(l.qty_milli), l.price, l.discount));
    if (mine.sort(compare).join(',') !== theirs.sort(compare).join(',')) continue;
    // the same lines: the hash of this basket with them in the stored order must be the stored one
    const inStoredOrder = new BasketRows();
    inStoredOrder.addBasket(rows.heads[i]!);
    for (const l of storedLines) inStoredOrder.addLine(l.gtin, Number(l.qty_milli), l.price, l.discount);
    if (contentHash(inStoredOrder, 0, memberOf(i)) === hit.hash) same.add(i);
  }
  return same;
}

/**
 * The taken baskets (positions in `rows`) that name by card a member other than the stored one,
 * whose hash differs, and whose card the stored member held at the basket's instant (member_cards):
 * the stored member, by position. Their hash is then computed with that member, so the retry of a
 * basket posted before its card moved is a duplicate again, and any other content still a
 * conflict. A card the stored member never held, or held at another time, gives nothing. Read only
 * for such baskets (rare): one indexed probe each.
 */
async function cardsHeldThen(
  tx: Tx,
  rows: BasketRows,
  differing: HashDiffers[],
  memberOf: (h: BasketHead) => number,
): Promise<Map<number, number>> {
  const held = new Map<number, number>();
  const candidates = differing.flatMap(({ i, hit }) => {
    const h = rows.heads[i]!;
    return h.member?.kind === 'card' && hit.memberId !== 0 && hit.memberId !== memberOf(h)
      ? [{ i, member: hit.memberId, card: h.member.ref, ts: h.ts }]
      : [];
  });
  if (candidates.length === 0) return held;
  const { rows: found } = await sql<{ k: number }>`
    select w.k::int - 1 as k
    from unnest(${textArray(candidates.map((c) => c.member))}::bigint[], ${textArray(candidates.map((c) => c.card))},
                ${textArray(candidates.map((c) => c.ts))}::timestamptz[]) with ordinality as w(member_id, card_number, ts, k)
    where exists (select 1 from member_cards h
                  where h.member_id = w.member_id and h.card_number = w.card_number
                    and h.from_at <= w.ts and (h.to_at is null or w.ts < h.to_at))`.execute(tx);
  for (const r of found) {
    const c = candidates[Number(r.k)]!;
    held.set(c.i, c.member);
  }
  return held;
}

type StoredBasket = { id: number; hash: string; memberId: number };
type HashDiffers = { i: number; hit: StoredBasket };

/**
 * The taken baskets (positions in `rows`, `taken[k]` found as `stored.get(k)`) whose content hash
 * differs from the stored one: the few a retry needs a closer look at (cardsHeldThen,
 * sameLinesReordered).
 */
function hashDiffers(taken: number[], stored: Map<number, StoredBasket>, hashes: string[]): HashDiffers[] {
  return taken.flatMap((i, k) => {
    const hit = stored.get(k);
    return hit && hit.hash !== hashes[i] ? [{ i, hit }] : [];
  });
}

/** The stored id, hash and member of each head's key, by position in `heads`. */
async function storedBaskets(tx: Tx | Db, heads: BasketHead[]): Promise<Map<number, StoredBasket>> {
  const { rows } = await sql<{ k: number; id: string | number; content_hash: string; member_id: string | number }>`
    with k as (
      select * from unnest(${textArray(heads.map((h) => h.storeId))}::int[], ${textArray(heads.map((h) => h.terminalId))}::text[],
                           ${textArray(heads.map((h) => h.txnId))}::text[]) with ordinality as k(store_id, terminal_id, txn_id, k)
    )
    select k.k::int - 1 as k, b.id, b.content_hash, b.member_id from k join baskets b
      on b.store_id = k.store_id and b.terminal_id = k.terminal_id and b.txn_id = k.txn_id
    union all
    select k.k::int - 1, b.id, b.content_hash, b.member_id from k join baskets b
      on k.store_id is null and b.store_id is null and b.terminal_id = k.terminal_id and b.txn_id = k.txn_id
  `.execute(tx);
  return new Map(rows.map((r) => [Number(r.k), { id: Number(r.id), hash: r.content_hash, memberId: Number(r.member_id) }]));
}
