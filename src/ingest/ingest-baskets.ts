import type { BasketSource } from '../db/index.ts';
import type { Deps } from '../deps.ts';
import type { FieldIssue } from '../lib/errors.ts';
import { parseInstant } from '../lib/time.ts';
import { basketKey, BasketRows, writeBaskets, type ReferenceCache } from './write-baskets.ts';

export { retryOnDeadlock } from './write-baskets.ts';

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

const keyOf = (b: BasketInput) => basketKey(b.storeId, b.terminalId, b.txnId);
// the instant to the microsecond, as stored (Date.parse stops at milliseconds)
// lines in any order: the same lines in another order are the same basket (see write-baskets.ts)
const contentOf = (b: BasketInput) =>
  JSON.stringify([
    parseInstant(b.ts),
    b.member,
    b.lines.map((l) => JSON.stringify([l.gtin, Math.round(l.qty * 1000), l.unitPriceCents, l.lineDiscountCents])).sort(),
  ]);

/**
 * Stores baskets, each whole or not at all, idempotently on (store, terminal, txn).
 *
 * Invariants: a basket whose key is stored with the same content is a `duplicate` and returns the
 * stored id (nothing new is written); with other content it is a `conflict` (nothing written).
 * Unknown cards create unregistered members; unknown GTINs create placeholder products
 * (`known = false`) and are reported, never dropped. Baskets naming an unknown store are
 * `rejected`. All writes are set-based: a handful of statements per call, whatever its size.
 * `cache`: what earlier calls resolved (see ReferenceCache; the POS API keeps a lasting one).
 */
export async function ingestBaskets(
  deps: Pick<Deps, 'db'> & Partial<Pick<Deps, 'copyTx'>>,
  baskets: BasketInput[],
  source: BasketSource,
  cache?: ReferenceCache,
): Promise<IngestOutcome[]> {
  const outcomes: (IngestOutcome | undefined)[] = new Array(baskets.length);
  // Within one call, a repeated key is resolved against its first occurrence (or, when that
  // conflicts with a stored basket, against the stored one: see `recheck`).
  const firstByKey = new Map<string, number>();
  const fresh: number[] = [];
  baskets.forEach((b, i) => {
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
    const { outcomes: written } = await writeBaskets(deps, basketRows(fresh.map((i) => baskets[i]!)), source, {
      unknownGtins: 'per-basket',
      cache,
    });
    fresh.forEach((i, n) => (outcomes[i] = written[n]));
  }
  // Repeats of a key whose first occurrence conflicts, with other content than it: they may be
  // the stored basket itself (a retry), so they are checked against it, not against the first.
  const recheck: number[] = [];
  baskets.forEach((b, i) => {
    if (outcomes[i]) return;
    const first = firstByKey.get(keyOf(b))!;
    const firstOutcome = outcomes[first]!;
    if (firstOutcome.status === 'rejected') {
      outcomes[i] = rejected(firstOutcome.issues); // same key, same store
      return;
    }
    const sameAsFirst = contentOf(b) === contentOf(baskets[first]!);
    if (firstOutcome.status === 'conflict' && !sameAsFirst) {
      recheck.push(i);
      return;
    }
    const same = sameAsFirst && firstOutcome.status !== 'conflict';
    outcomes[i] = {
      status: same ? 'duplicate' : 'conflict',
      basketId: firstOutcome.basketId,
      unknownGtins: same ? firstOutcome.unknownGtins : [],
      issues: same
        ? []
        : [{ path: 'txnId', message: 'this (store, terminal, txn) is already used by another basket' }],
    };
  });
  if (recheck.length > 0) {
    // fewer baskets each round (the first occurrences are left out), so this ends
    const again = await ingestBaskets(deps, recheck.map((i) => baskets[i]!), source, cache);
    recheck.forEach((i, n) => (outcomes[i] = again[n]));
  }
  return outcomes as IngestOutcome[];
}

function rejected(issues: FieldIssue[]): IngestOutcome {
  return { status: 'rejected', basketId: null, unknownGtins: [], issues };
}

/** Baskets with distinct keys as the writer's rows. */
function basketRows(baskets: BasketInput[]): BasketRows {
  const rows = new BasketRows();
  for (const b of baskets) {
    rows.addBasket({ storeId: b.storeId, terminalId: b.terminalId, txnId: b.txnId, ts: b.ts, member: b.member });
    for (const l of b.lines) rows.addLine(l.gtin, Math.round(l.qty * 1000), l.unitPriceCents, l.lineDiscountCents);
  }
  return rows;
}
