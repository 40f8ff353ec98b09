import { withTx, type Db } from '../db/index.ts';
import type { Deps } from '../deps.ts';
import { ValidationError, type FieldIssue } from '../lib/errors.ts';
import * as repo from './repo.ts';
import type { Category, Manufacturer, Member, Product, Store } from './schemas.ts';

/** A row that was not written, with its issues (paths relative to the row). */
export interface RowRejection {
  index: number;
  issues: FieldIssue[];
}

export interface UpsertOutcome {
  upserted: number;
  rejected: RowRejection[];
}

/**
 * `all-or-nothing` (the API): any bad row rejects the whole batch with a ValidationError naming
 * every bad field. `skip-bad-rows` (CSV import): good rows are written, bad ones returned.
 */
export type UpsertMode = 'all-or-nothing' | 'skip-bad-rows';

interface Spec<T> {
  noun: string;
  key: (row: T) => string | number;
  keyField: string;
  check: (db: Db, rows: T[]) => Promise<RowRejection[]>;
  write: (db: Db, rows: T[]) => Promise<void>;
}

async function upsertChecked<T>(
  deps: Pick<Deps, 'db'>,
  spec: Spec<T>,
  rows: T[],
  mode: UpsertMode,
): Promise<UpsertOutcome> {
  return withTx(deps.db, async (tx) => {
    const rejected = [...duplicateRows(rows, spec), ...(await spec.check(tx, rows))];
    if (rejected.length > 0 && mode === 'all-or-nothing') {
      throw new ValidationError(
        `${new Set(rejected.map((r) => r.index)).size} of ${rows.length} ${spec.noun} are invalid; nothing was stored`,
        rejected.flatMap((r) =>
          r.issues.map((i) => ({ path: `${spec.noun}[${r.index}].${i.path}`, message: i.message })),
        ),
      );
    }
    const bad = new Set(rejected.map((r) => r.index));
    const good = rows.filter((_, i) => !bad.has(i));
    if (good.length > 0) await spec.write(tx, good);
    return { upserted: good.length, rejected };
  });
}

function duplicateRows<T>(rows: T[], spec: Spec<T>): RowRejection[] {
  const seen = new Map<string | number, number>();
  const out: RowRejection[] = [];
  rows.forEach((row, index) => {
    const key = spec.key(row);
    const first = seen.get(key);
    if (first === undefined) seen.set(key, index);
    else {
      out.push({
        index,
        issues: [{ path: spec.keyField, message: `${key} appears earlier in this batch (row ${first})` }],
      });
    }
  });
  return out;
}

/** Rejects rows whose `field` names an id missing from `table`. */
async function checkRefs<T>(
  db: Db,
  rows: T[],
  table: 'stores' | 'categories' | 'manufacturers',
  field: string,
  get: (row: T) => string | number | null | undefined,
): Promise<RowRejection[]> {
  const wanted = rows.map(get).filter((v): v is string | number => v !== null && v !== undefined);
  const found = await repo.existingIds(db, table, wanted);
  const out: RowRejection[] = [];
  rows.forEach((row, index) => {
    const v = get(row);
    if (v !== null && v !== undefined && !found.has(v)) {
      out.push({ index, issues: [{ path: field, message: `unknown ${table.replace(/s$/, '').replace(/ie$/, 'y')} ${v}` }] });
    }
  });
  return out;
}

const none = async () => [];

export const upsertStores = (deps: Pick<Deps, 'db'>, rows: Store[], mode: UpsertMode = 'all-or-nothing') =>
  upsertChecked(deps, { noun: 'stores', key: (r) => r.id, keyField: 'id', check: none, write: repo.upsertStores }, rows, mode);

export const upsertManufacturers = (
  deps: Pick<Deps, 'db'>,
  rows: Manufacturer[],
  mode: UpsertMode = 'all-or-nothing',
) =>
  upsertChecked(
    deps,
    { noun: 'manufacturers', key: (r) => r.id, keyField: 'id', check: none, write: repo.upsertManufacturers },
    rows,
    mode,
  );

export const upsertCategories = (
  deps: Pick<Deps, 'db'>,
  rows: Category[],
  mode: UpsertMode = 'all-or-nothing',
) =>
  upsertChecked(
    deps,
    {
      noun: 'categories',
      key: (r) => r.id,
      keyField: 'id',
      // a parent may be defined in the same batch
      check: async (db, batch) => {
        const inBatch = new Set(batch.map((r) => r.id));
        return checkRefs(db, batch, 'categories', 'parentId', (r) =>
          r.parentId && !inBatch.has(r.parentId) ? r.parentId : null,
        );
      },
      // One statement, whatever the order of parents and children in it: PostgreSQL checks a
      // foreign key at the end of the statement. (Two passes, parents cleared first, rewrote
      // every child row twice, even one sent again unchanged.)
      write: repo.upsertCategories,
    },
    rows,
    mode,
  );

export const upsertProducts = (deps: Pick<Deps, 'db'>, rows: Product[], mode: UpsertMode = 'all-or-nothing') =>
  upsertChecked(
    deps,
    {
      noun: 'products',
      key: (r) => r.gtin,
      keyField: 'gtin',
      check: async (db, batch) => [
        ...(await checkRefs(db, batch, 'categories', 'categoryId', (r) => r.categoryId)),
        ...(await checkRefs(db, batch, 'manufacturers', 'manufacturerId', (r) => r.manufacturerId)),
      ],
      write: repo.upsertProducts,
    },
    rows,
    mode,
  );

/**
 * Members by member number. A card handed to another member is recorded in member_cards (the
 * earlier holder's period closed, the new one's opened) at the clock's now, in the same transaction.
 */
export const upsertMembers = (deps: Pick<Deps, 'db' | 'clock'>, rows: Member[], mode: UpsertMode = 'all-or-nothing') =>
  upsertChecked(
    deps,
    {
      noun: 'members',
      key: (r) => r.memberNumber,
      keyField: 'memberNumber',
      check: async (db, batch) => {
        const out = await checkRefs(db, batch, 'stores', 'homeStoreId', (r) => r.homeStoreId);
        const owners = await repo.cardOwners(
          db,
          batch.flatMap((r) => (r.cardNumber ? [r.cardNumber] : [])),
        );
        // A card first seen in baskets made an unregistered member, whose history registering the
        // card keeps; a member who exists already has history of their own, and merging two
        // members is not an upsert (their rows would both hold the card: a unique violation, 500).
        const unregisteredCards = batch.filter((r) => r.cardNumber && owners.get(r.cardNumber) === null);
        const existing = await repo.existingMemberNumbers(db, unregisteredCards.map((r) => r.memberNumber));
        const cardSeen = new Map<string, number>();
        batch.forEach((r, index) => {
          if (!r.cardNumber) return;
          if (owners.get(r.cardNumber) === null && existing.has(r.memberNumber)) {
            out.push({
              index,
              issues: [
                {
                  path: 'cardNumber',
                  message: `card was first used by an unregistered member (baskets without a member number); member ${r.memberNumber} exists already and the two cannot be merged by an upsert`,
                },
              ],
            });
          }
          const first = cardSeen.get(r.cardNumber);
          if (first !== undefined) {
            out.push({
              index,
              issues: [{ path: 'cardNumber', message: `card appears earlier in this batch (row ${first})` }],
            });
          } else cardSeen.set(r.cardNumber, index);
        });
        // A card may move to another member when its owner, in a good row of the same batch, takes
        // another card (a card handed on, two cards swapped): the write frees it first. Whether
        // the owner's row is good may depend on a card of its own: settled until nothing changes.
        const rowOf = new Map<string, number>();
        batch.forEach((r, index) => rowOf.has(r.memberNumber) || rowOf.set(r.memberNumber, index));
        const bad = new Set(out.map((r) => r.index));
        batch.forEach((r, index) => rowOf.get(r.memberNumber) !== index && bad.add(index));
        const heldByOther = (r: Member): string | null => {
          const owner = r.cardNumber ? owners.get(r.cardNumber) : undefined;
          if (!owner || owner === r.memberNumber) return null;
          const ownerRow = rowOf.get(owner);
          const ownerCard = ownerRow === undefined ? undefined : batch[ownerRow]!.cardNumber;
          return ownerRow !== undefined && !bad.has(ownerRow) && ownerCard && ownerCard !== r.cardNumber ? null : owner;
        };
        for (let changed = true; changed; ) {
          changed = false;
          batch.forEach((r, index) => {
            if (bad.has(index) || !heldByOther(r)) return;
            bad.add(index);
            changed = true;
          });
        }
        batch.forEach((r, index) => {
          const holder = heldByOther(r);
          if (holder) out.push({ index, issues: [{ path: 'cardNumber', message: `card belongs to member ${holder}` }] });
        });
        return out;
      },
      write: (db, batch) => repo.upsertMembers(db, batch, deps.clock.now()),
    },
    rows,
    mode,
  );
