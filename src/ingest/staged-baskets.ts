import { sql } from 'kysely';
import { textArray, withTx, type BasketSource, type CopyIn, type Tx } from '../db/index.ts';
import type { Deps } from '../deps.ts';
import type { IngestOutcome } from './ingest-baskets.ts';

/**
 * The bulk write of baskets. Every source (POS API, CSV import, checkout) hands over its baskets
 * as two CSV texts, which are loaded into two session-local temp tables; then a few set-based
 * statements move them into the real tables, all in one transaction:
 *
 *   ingest_heads  seq, member_kind, member_ref, store_id, terminal_id, txn_id, ts   (a basket a row)
 *   ingest_lines  seq, line_no, gtin, qty, price, discount                          (a line a row)
 *
 * Loading uses COPY on the transaction's own connection where the driver has it (`deps.copyTx`:
 * postgres.js `COPY … FROM STDIN`, PGlite `COPY … FROM '/dev/blob'`), which is several times
 * faster than parameters; elsewhere (Workers, or inside a caller's transaction such as a checkout
 * commit) the same rows go in through `INSERT … SELECT FROM unnest(…)`. The temp tables are
 * emptied at commit (`on commit delete rows`), so they cost no WAL and leave no dead rows.
 */
export interface StagedBaskets {
  /** CSV rows of HEAD_COLUMNS; `seq` numbers the baskets 0…count-1; their keys are distinct. */
  heads: string;
  /** CSV rows of LINE_COLUMNS; every basket has at least one line. */
  lines: string;
  count: number;
}

export const HEAD_COLUMNS = ['seq', 'member_kind', 'member_ref', 'store_id', 'terminal_id', 'txn_id', 'ts'] as const;
export const LINE_COLUMNS = ['seq', 'line_no', 'gtin', 'qty', 'price', 'discount'] as const;

/** A text value for the staged CSV: null → an empty field (NULL); '' → `""` (the empty string). */
export function stagedText(value: string | null): string {
  if (value === null) return '';
  if (value === '') return '""';
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export interface StagedResult {
  /** One outcome per `seq`. */
  outcomes: IngestOutcome[];
  /** Distinct unknown GTINs of the baskets that were created or duplicates. */
  unknownGtins: string[];
}

/**
 * Writes staged baskets in one transaction (see above); the invariants of `ingestBaskets` hold.
 * `unknownGtins: 'per-basket'` fills each outcome's list; `'distinct'` (the CSV import, where
 * only their number is reported) returns them once for the whole batch.
 */
export async function writeStagedBaskets(
  deps: Pick<Deps, 'db'> & Partial<Pick<Deps, 'copyTx'>>,
  batch: StagedBaskets,
  source: BasketSource,
  opts: { unknownGtins: 'per-basket' | 'distinct' },
): Promise<StagedResult> {
  // Not inside a caller's transaction, and only on the database it belongs to.
  if (deps.copyTx && deps.copyTx.db === deps.db) {
    const copyTx = deps.copyTx;
    return retryOnDeadlock(() =>
      copyTx(async (tx, copyIn) => {
        await createStage(tx);
        await stageByCopy(copyIn, batch);
        return writeStaged(tx, batch.count, source, opts);
      }),
    );
  }
  const inOuterTx = deps.db.isTransaction;
  return retryOnDeadlock(() =>
    withTx(deps.db, async (tx) => {
      await createStage(tx);
      await stageByInsert(tx, batch);
      const result = await writeStaged(tx, batch.count, source, opts);
      // `on commit delete rows` empties them at commit; a caller's transaction may stage again.
      if (inOuterTx) {
        await sql`delete from ingest_lines`.execute(tx);
        await sql`delete from ingest_heads`.execute(tx);
      }
      return result;
    }),
  );
}

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

async function createStage(tx: Tx): Promise<void> {
  await sql`create temp table if not exists ingest_heads (seq integer not null, member_kind text,
    member_ref text, store_id integer, terminal_id text not null, txn_id text not null,
    ts timestamptz not null) on commit delete rows`.execute(tx);
  await sql`create temp table if not exists ingest_lines (seq integer not null,
    line_no integer not null, gtin char(14) not null, qty numeric(12, 3) not null, price integer,
    discount integer not null) on commit delete rows`.execute(tx);
}

async function stageByCopy(copyIn: CopyIn, batch: StagedBaskets): Promise<void> {
  await copyIn('ingest_heads', HEAD_COLUMNS, batch.heads);
  await copyIn('ingest_lines', LINE_COLUMNS, batch.lines);
}

/** The staged CSV read back into columns (null for an empty unquoted field, as COPY reads it). */
function columnsOf(csv: string, width: number): (string | null)[][] {
  const cols: (string | null)[][] = Array.from({ length: width }, () => []);
  let i = 0;
  while (i < csv.length) {
    for (let c = 0; c < width; c++) {
      let value: string | null;
      if (csv[i] === '"') {
        let text = '';
        i++;
        for (;;) {
          const q = csv.indexOf('"', i);
          text += csv.slice(i, q);
          i = q + 1;
          if (csv[i] === '"') {
            text += '"';
            i++;
          } else break;
        }
        value = text;
      } else {
        let end = i;
        while (end < csv.length && csv[end] !== ',' && csv[end] !== '\n') end++;
        value = end === i ? null : csv.slice(i, end);
        i = end;
      }
      cols[c]!.push(value);
      i++; // the comma, or the line end
    }
  }
  return cols;
}

async function stageByInsert(tx: Tx, batch: StagedBaskets): Promise<void> {
  const [hSeq, kind, ref, store, terminal, txn, ts] = columnsOf(batch.heads, HEAD_COLUMNS.length);
  await sql`insert into ingest_heads (seq, member_kind, member_ref, store_id, terminal_id, txn_id, ts)
    select s.seq::int, s.kind, s.ref, s.store::int, s.terminal, s.txn, s.ts::timestamptz
    from unnest(${textArray(hSeq!)}, ${textArray(kind!)}, ${textArray(ref!)}, ${textArray(store!)}, ${textArray(terminal!)},
                ${textArray(txn!)}, ${textArray(ts!)}) as s(seq, kind, ref, store, terminal, txn, ts)`.execute(tx);
  const [lSeq, lineNo, gtin, qty, price, discount] = columnsOf(batch.lines, LINE_COLUMNS.length);
  await sql`insert into ingest_lines (seq, line_no, gtin, qty, price, discount)
    select s.seq::int, s.line_no::int, s.gtin, s.qty::numeric, s.price::int, s.discount::int
    from unnest(${textArray(lSeq!)}, ${textArray(lineNo!)}, ${textArray(gtin!)}, ${textArray(qty!)}, ${textArray(price!)},
                ${textArray(discount!)}) as s(seq, line_no, gtin, qty, price, discount)`.execute(tx);
}

/** From the staged rows into stores' baskets: one outcome per seq. */
async function writeStaged(
  tx: Tx,
  count: number,
  source: BasketSource,
  opts: { unknownGtins: 'per-basket' | 'distinct' },
): Promise<StagedResult> {
  const outcomes: IngestOutcome[] = new Array(count);

  // Baskets of unknown stores are rejected and leave the stage, before anything is written.
  const { rows: badStores } = await sql<{ seq: number; store_id: number }>`
    delete from ingest_heads h
    where h.store_id is not null and not exists (select 1 from stores s where s.id = h.store_id)
    returning h.seq, h.store_id`.execute(tx);
  if (badStores.length > 0) {
    for (const r of badStores) {
      outcomes[r.seq] = {
        status: 'rejected',
        basketId: null,
        unknownGtins: [],
        issues: [{ path: 'storeId', message: `unknown store ${r.store_id}` }],
      };
    }
    await sql`delete from ingest_lines where seq = any(${textArray(badStores.map((r) => r.seq))}::int[])`.execute(tx);
    if (badStores.length === count) return { outcomes, unknownGtins: [] };
  }

  // New terminals, cards, member numbers and GTINs, each inserted in sorted order: concurrent
  // writers take their locks in the same order, so they wait on each other instead of deadlocking.
  await sql`
    with t as (
      insert into terminals (store_id, id)
      select distinct store_id, terminal_id from ingest_heads
      where store_id is not null and terminal_id <> '' order by 1, 2
      on conflict do nothing
    ), c as (
      insert into members (card_number, status)
      select distinct member_ref, 'unregistered' from ingest_heads where member_kind = 'card' order by 1
      on conflict (card_number) do nothing
    ), n as (
      insert into members (member_number, status)
      select distinct member_ref, 'unregistered' from ingest_heads where member_kind = 'number' order by 1
      on conflict (member_number) do nothing
    )
    insert into products (gtin, known)
    select distinct gtin, false from ingest_lines order by 1
    on conflict (gtin) do nothing`.execute(tx);

  // The content hash covers key, instant, member and every line in order: a retry matches it
  // exactly, whichever source (API or CSV) stored the basket first. Baskets go in key order (the
  // lock order of concurrent writers).
  const { rows } = await sql<{ seq: number; hash: string; id: number | null }>`
    with sums as (
      select seq,
             sum(coalesce(round(qty * price), 0) - discount)::bigint as total_cents,
             count(*)::int as line_count,
             string_agg(gtin || ':' || qty::text || ':' || coalesce(price::text, '') || ':' ||
                        discount::text, ',' order by line_no) as body
      from ingest_lines group by seq
    ), hdr as (
      select h.*, s.total_cents, s.line_count, coalesce(mc.id, mn.id, 0) as member_id,
             md5(concat_ws('|', coalesce(h.store_id::text, ''), h.terminal_id, h.txn_id,
                           extract(epoch from h.ts)::text, coalesce(mc.id, mn.id, 0)::text,
                           s.body)) as hash
      from ingest_heads h
      join sums s on s.seq = h.seq
      left join members mc on h.member_kind = 'card' and mc.card_number = h.member_ref
      left join members mn on h.member_kind = 'number' and mn.member_number = h.member_ref
    ), ins as (
      insert into baskets (member_id, store_id, terminal_id, txn_id, ts, total_cents, line_count,
                           content_hash, source)
      select member_id, store_id, terminal_id, txn_id, ts, total_cents, line_count, hash,
             ${source}
      from hdr
      order by store_id, terminal_id, txn_id
      on conflict (store_id, terminal_id, txn_id) do nothing
      returning member_id, id, store_id, terminal_id, txn_id
    ), matched as (
      select h.seq, h.hash, i.member_id, i.id
      from hdr h
      left join ins i on coalesce(i.store_id, 0) = coalesce(h.store_id, 0)
        and i.terminal_id = h.terminal_id and i.txn_id = h.txn_id
    ), written_lines as (
      insert into basket_lines (member_id, basket_id, line_no, gtin, qty, unit_price_cents,
                                line_discount_cents)
      select m.member_id, m.id, l.line_no, l.gtin, l.qty, l.price, l.discount
      from matched m join ingest_lines l on l.seq = m.seq
      where m.id is not null
    )
    select seq, hash, id from matched
  `.execute(tx);

  const taken: { seq: number; hash: string }[] = [];
  for (const r of rows) {
    if (r.id !== null) {
      outcomes[r.seq] = { status: 'created', basketId: Number(r.id), unknownGtins: [], issues: [] };
    } else taken.push(r);
  }
  const conflicts: number[] = [];
  if (taken.length > 0) {
    // A separate statement: under READ COMMITTED it sees baskets that a concurrent request
    // committed while our insert waited on the key.
    const stored = await storedBySeq(tx, taken.map((t) => t.seq));
    for (const t of taken) {
      const hit = stored.get(t.seq);
      if (!hit) throw new Error(`basket key of batch row ${t.seq} neither inserted nor found`);
      if (hit.hash === t.hash) {
        outcomes[t.seq] = { status: 'duplicate', basketId: hit.id, unknownGtins: [], issues: [] };
      } else {
        conflicts.push(t.seq);
        outcomes[t.seq] = {
          status: 'conflict',
          basketId: hit.id,
          unknownGtins: [],
          issues: [{ path: 'txnId', message: 'this (store, terminal, txn) is already stored with other content' }],
        };
      }
    }
  }

  // Unknown GTINs: those of stored baskets, not of conflicting ones (nothing of theirs is stored).
  if (opts.unknownGtins === 'distinct') {
    const { rows: unknown } = await sql<{ gtin: string }>`
      select distinct l.gtin from ingest_lines l join products p on p.gtin = l.gtin
      where not p.known and l.seq <> all(${textArray(conflicts)}::int[])`.execute(tx);
    return { outcomes, unknownGtins: unknown.map((r) => r.gtin) };
  }
  const { rows: unknown } = await sql<{ seq: number; gtin: string }>`
    select distinct l.seq, l.gtin from ingest_lines l join products p on p.gtin = l.gtin
    where not p.known and l.seq <> all(${textArray(conflicts)}::int[])
    order by l.seq, l.gtin`.execute(tx);
  for (const r of unknown) outcomes[r.seq]!.unknownGtins.push(r.gtin);
  return { outcomes, unknownGtins: [...new Set(unknown.map((r) => r.gtin))] };
}

async function storedBySeq(tx: Tx, seqs: number[]): Promise<Map<number, { id: number; hash: string }>> {
  const { rows } = await sql<{ seq: number; id: number; content_hash: string }>`
    with k as (select * from ingest_heads where seq = any(${textArray(seqs)}::int[]))
    select k.seq, b.id, b.content_hash from k join baskets b
      on b.store_id = k.store_id and b.terminal_id = k.terminal_id and b.txn_id = k.txn_id
    union all
    select k.seq, b.id, b.content_hash from k join baskets b
      on k.store_id is null and b.store_id is null and b.terminal_id = k.terminal_id
        and b.txn_id = k.txn_id
  `.execute(tx);
  return new Map(rows.map((r) => [r.seq, { id: Number(r.id), hash: r.content_hash }]));
}
