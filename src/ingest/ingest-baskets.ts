import { sql } from 'kysely';
import { existingIds } from '../catalogue/repo.ts';
import { textArray, withTx, type BasketSource, type Db } from '../db/index.ts';
import type { Deps } from '../deps.ts';
import type { FieldIssue } from '../lib/errors.ts';

/** The shape every source (POS API, CSV import, checkout) turns a basket into. */
export interface BasketInput {
  /** null only for history imports that do not say which store. */
  storeId: number | null;
  /** '' when the source has no terminal. */
  terminalId: string;
  txnId: string;
  /** ISO-8601 instant with offset or Z. */
  ts: string;
  member: { kind: 'card' | 'number'; ref: string } | null;
  lines: {
    gtin: string;
    qty: number;
    unitPriceCents: number | null;
    lineDiscountCents: number;
  }[];
}

export interface IngestOutcome {
  status: 'created' | 'duplicate' | 'conflict' | 'rejected';
  basketId: number | null;
  unknownGtins: string[];
  issues: FieldIssue[];
}

const keyOf = (b: BasketInput) => `${b.storeId ?? ''}\u0000${b.terminalId}\u0000${b.txnId}`;
const contentOf = (b: BasketInput) =>
  JSON.stringify([Date.parse(b.ts), b.member, b.lines.map((l) => [l.gtin, l.qty, l.unitPriceCents, l.lineDiscountCents])]);

/**
 * Stores baskets, each whole or not at all, idempotently on (store, terminal, txn).
 *
 * Invariants: a basket whose key is stored with the same content is a `duplicate` and returns the
 * stored id (nothing new is written); with other content it is a `conflict` (nothing written).
 * Unknown cards create unregistered members; unknown GTINs create placeholder products
 * (`known = false`) and are reported, never dropped. Baskets naming an unknown store are
 * `rejected`. All writes are set-based: a handful of statements per call, whatever its size.
 */
export async function ingestBaskets(
  deps: Pick<Deps, 'db'>,
  baskets: BasketInput[],
  source: BasketSource,
): Promise<IngestOutcome[]> {
  const outcomes: (IngestOutcome | undefined)[] = new Array(baskets.length);
  const knownStores = await existingIds(
    deps.db,
    'stores',
    baskets.flatMap((b) => (b.storeId === null ? [] : [b.storeId])),
  );

  // Within one call, a repeated key is resolved against its first occurrence.
  const firstByKey = new Map<string, number>();
  const fresh: number[] = [];
  baskets.forEach((b, i) => {
    if (b.storeId !== null && !knownStores.has(b.storeId)) {
      outcomes[i] = rejected([{ path: 'storeId', message: `unknown store ${b.storeId}` }]);
      return;
    }
    if (b.lines.length === 0) {
      outcomes[i] = rejected([{ path: 'lines', message: 'a basket needs at least one line' }]);
      return;
    }
    const key = keyOf(b);
    if (!firstByKey.has(key)) {
      firstByKey.set(key, i);
      fresh.push(i);
    }
  });

  if (fresh.length > 0) {
    const batch = fresh.map((i) => baskets[i]!);
    const written = await retryOnDeadlock(() => withTx(deps.db, (tx) => writeBaskets(tx, batch, source)));
    fresh.forEach((i, n) => (outcomes[i] = written[n]));
  }
  baskets.forEach((b, i) => {
    if (outcomes[i]) return;
    const first = firstByKey.get(keyOf(b))!;
    const firstOutcome = outcomes[first]!;
    const same = contentOf(b) === contentOf(baskets[first]!) && firstOutcome.status !== 'conflict';
    outcomes[i] = {
      status: same ? 'duplicate' : 'conflict',
      basketId: firstOutcome.basketId,
      unknownGtins: same ? firstOutcome.unknownGtins : [],
      issues: same
        ? []
        : [{ path: 'txnId', message: 'this (store, terminal, txn) is already used by another basket' }],
    };
  });
  return outcomes as IngestOutcome[];
}

function rejected(issues: FieldIssue[]): IngestOutcome {
  return { status: 'rejected', basketId: null, unknownGtins: [], issues };
}

/**
 * Distinct values in sorted order. Concurrent writers insert new keys (cards, GTINs, terminals)
 * in the same order, so they wait on each other instead of deadlocking.
 */
function distinct<T extends string>(values: Iterable<T>): T[] {
  return [...new Set(values)].sort();
}

/**
 * Runs a whole-transaction write again when PostgreSQL picked it as a deadlock victim (40P01) or
 * a serialization failure (40001). Safe because the write is idempotent.
 */
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

/** Writes baskets with distinct keys in one transaction; returns one outcome per basket. */
async function writeBaskets(
  tx: Db,
  baskets: BasketInput[],
  source: BasketSource,
): Promise<IngestOutcome[]> {
  const terminals = distinct(
    baskets.filter((b) => b.storeId !== null && b.terminalId).map((b) => `${b.storeId}\u0000${b.terminalId}`),
  ).map((k) => k.split('\u0000'));
  if (terminals.length > 0) {
    await sql`insert into terminals (store_id, id)
      select s.store_id::int, s.id from unnest(${textArray(terminals.map((t) => t[0]))},
        ${textArray(terminals.map((t) => t[1]))}) as s(store_id, id)
      on conflict do nothing`.execute(tx);
  }
  const cards = distinct(baskets.flatMap((b) => (b.member?.kind === 'card' ? [b.member.ref] : [])));
  if (cards.length > 0) {
    await sql`insert into members (card_number, status)
      select c, 'unregistered' from unnest(${textArray(cards)}) as c
      on conflict (card_number) do nothing`.execute(tx);
  }
  const numbers = distinct(baskets.flatMap((b) => (b.member?.kind === 'number' ? [b.member.ref] : [])));
  if (numbers.length > 0) {
    await sql`insert into members (member_number, status)
      select n, 'unregistered' from unnest(${textArray(numbers)}) as n
      on conflict (member_number) do nothing`.execute(tx);
  }
  const gtins = distinct(baskets.flatMap((b) => b.lines.map((l) => l.gtin)));
  await sql`insert into products (gtin, known)
    select g, false from unnest(${textArray(gtins)}) as g
    on conflict (gtin) do nothing`.execute(tx);

  // Baskets go in key order (the lock order of concurrent writers); headers are sent once per
  // basket and lines once per line, joined on the basket's position `seq`.
  const order = baskets.map((_, i) => i).sort((a, b) => {
    const ka = keyOf(baskets[a]!);
    const kb = keyOf(baskets[b]!);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
  const head = { seq: [] as number[], memberKind: [] as (string | null)[], memberRef: [] as (string | null)[], storeId: [] as (number | null)[], terminalId: [] as string[], txnId: [] as string[], ts: [] as string[] };
  const line = { seq: [] as number[], lineNo: [] as number[], gtin: [] as string[], qty: [] as number[], price: [] as (number | null)[], discount: [] as number[] };
  for (const seq of order) {
    const b = baskets[seq]!;
    head.seq.push(seq);
    head.memberKind.push(b.member?.kind ?? null);
    head.memberRef.push(b.member?.ref ?? null);
    head.storeId.push(b.storeId);
    head.terminalId.push(b.terminalId);
    head.txnId.push(b.txnId);
    head.ts.push(b.ts);
    b.lines.forEach((l, i) => {
      line.seq.push(seq);
      line.lineNo.push(i + 1);
      line.gtin.push(l.gtin);
      line.qty.push(l.qty);
      line.price.push(l.unitPriceCents);
      line.discount.push(l.lineDiscountCents);
    });
  }

  // The content hash covers key, instant, member and every line in order: a retry matches it
  // exactly, whichever source (API or CSV) stored the basket first.
  const { rows } = await sql<{ seq: number; hash: string; id: number | null }>`
    with heads as (
      select s.seq::int as seq, s.member_kind, s.member_ref, s.store_id::int as store_id,
             s.terminal_id, s.txn_id, s.ts::timestamptz as ts, s.ord
      from unnest(${textArray(head.seq)}, ${textArray(head.memberKind)}, ${textArray(head.memberRef)},
                  ${textArray(head.storeId)}, ${textArray(head.terminalId)}, ${textArray(head.txnId)},
                  ${textArray(head.ts)}) with ordinality
        as s(seq, member_kind, member_ref, store_id, terminal_id, txn_id, ts, ord)
    ), lines as (
      select s.seq::int as seq, s.line_no::int as line_no, s.gtin, s.qty::numeric(12, 3) as qty,
             s.price::int as price, s.discount::int as discount
      from unnest(${textArray(line.seq)}, ${textArray(line.lineNo)}, ${textArray(line.gtin)},
                  ${textArray(line.qty)}, ${textArray(line.price)}, ${textArray(line.discount)})
        as s(seq, line_no, gtin, qty, price, discount)
    ), sums as (
      select seq,
             sum(coalesce(round(qty * price), 0) - discount)::bigint as total_cents,
             count(*)::int as line_count,
             string_agg(gtin || ':' || qty::text || ':' || coalesce(price::text, '') || ':' ||
                        discount::text, ',' order by line_no) as body
      from lines group by seq
    ), hdr as (
      select h.*, s.total_cents, s.line_count, coalesce(mc.id, mn.id, 0) as member_id,
             md5(concat_ws('|', coalesce(h.store_id::text, ''), h.terminal_id, h.txn_id,
                           extract(epoch from h.ts)::text, coalesce(mc.id, mn.id, 0)::text,
                           s.body)) as hash
      from heads h
      join sums s on s.seq = h.seq
      left join members mc on h.member_kind = 'card' and mc.card_number = h.member_ref
      left join members mn on h.member_kind = 'number' and mn.member_number = h.member_ref
    ), ins as (
      insert into baskets (member_id, store_id, terminal_id, txn_id, ts, total_cents, line_count,
                           content_hash, source)
      select member_id, store_id, terminal_id, txn_id, ts, total_cents, line_count, hash,
             ${source}
      from hdr
      order by ord
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
      from matched m join lines l on l.seq = m.seq
      where m.id is not null
    )
    select seq, hash, id from matched
  `.execute(tx);

  const outcomes: IngestOutcome[] = new Array(baskets.length);
  const taken: { seq: number; hash: string }[] = [];
  for (const r of rows) {
    if (r.id !== null) {
      outcomes[r.seq] = { status: 'created', basketId: Number(r.id), unknownGtins: [], issues: [] };
    } else taken.push(r);
  }
  if (taken.length > 0) {
    // A separate statement: under READ COMMITTED it sees baskets that a concurrent request
    // committed while our insert waited on the key.
    const stored = await storedByKey(tx, taken.map((t) => ({ seq: t.seq, basket: baskets[t.seq]! })));
    for (const t of taken) {
      const hit = stored.get(t.seq);
      if (!hit) throw new Error(`basket key of batch row ${t.seq} neither inserted nor found`);
      outcomes[t.seq] =
        hit.hash === t.hash
          ? { status: 'duplicate', basketId: hit.id, unknownGtins: [], issues: [] }
          : {
              status: 'conflict',
              basketId: hit.id,
              unknownGtins: [],
              issues: [
                {
                  path: 'txnId',
                  message: 'this (store, terminal, txn) is already stored with other content',
                },
              ],
            };
    }
  }

  const unknown = new Set(
    (
      await tx
        .selectFrom('products')
        .select('gtin')
        .where('gtin', 'in', gtins)
        .where('known', '=', false)
        .execute()
    ).map((r) => r.gtin),
  );
  if (unknown.size > 0) {
    baskets.forEach((b, i) => {
      if (outcomes[i]!.status !== 'conflict') {
        outcomes[i]!.unknownGtins = distinct(b.lines.map((l) => l.gtin).filter((g) => unknown.has(g)));
      }
    });
  }
  return outcomes;
}

async function storedByKey(
  tx: Db,
  items: { seq: number; basket: BasketInput }[],
): Promise<Map<number, { id: number; hash: string }>> {
  const arr = (f: (b: BasketInput) => string | number | null) => textArray(items.map((i) => f(i.basket)));
  const seqs = textArray(items.map((i) => i.seq));
  const { rows } = await sql<{ seq: number; id: number; content_hash: string }>`
    with k as (
      select seq::int as seq, store_id::int as store_id, terminal_id, txn_id
      from unnest(${seqs}, ${arr((b) => b.storeId)}, ${arr((b) => b.terminalId)},
                  ${arr((b) => b.txnId)}) as s(seq, store_id, terminal_id, txn_id)
    )
    select k.seq, b.id, b.content_hash from k join baskets b
      on b.store_id = k.store_id and b.terminal_id = k.terminal_id and b.txn_id = k.txn_id
    union all
    select k.seq, b.id, b.content_hash from k join baskets b
      on k.store_id is null and b.store_id is null and b.terminal_id = k.terminal_id
        and b.txn_id = k.txn_id
  `.execute(tx);
  return new Map(rows.map((r) => [r.seq, { id: Number(r.id), hash: r.content_hash }]));
}
