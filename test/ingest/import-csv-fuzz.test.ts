import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { importBaskets, importMembers, importProducts, type RejectedRow } from '../../src/ingest/import-csv.ts';
import { useTestDeps } from '../support/db.ts';
import { gtin13, seedCatalogue } from '../support/factories.ts';
import { seededRandom as rng } from '../support/random.ts';

/**
 * Hostile CSV rows, drawn with a fixed seed: every column of valid basket, product and member
 * files given values of the wrong shape, out of range, at the edges of the database's types, or
 * holding characters it cannot store. An import never dies of a row: each bad row is rejected with
 * its line, column and reason, every other row lands, and the counts add up.
 */
const getDeps = useTestDeps();
beforeAll(async () => seedCatalogue(getDeps()));

const hostile = [
  '', ' ', '-1', '0', '0.0001', '1e3', '1e308', 'NaN', 'Infinity', '2147483648', '9223372036854775808',
  '99999999999999999999', '999999.999', '9999999.99', '999999999', 'x'.repeat(5000), 'a\u0000b', '😀', 'é',
  '2026-02-30', '2026-11-20T25:00:00Z', '0001-01-01', '9999-12-31T23:59:59+14:00', '"quoted, comma"', "' or 1=1 --",
  'true', 'null',
];


const csvField = (v: string) => (/[",\n\r]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);

/** `rows` valid rows from `valid`, each with one to two columns replaced by hostile values. */
function hostileFile(header: string[], valid: (i: number) => string[], rows: number, seed: number): string {
  const random = rng(seed);
  const lines = [header.join(',')];
  for (let i = 0; i < rows; i++) {
    const row = valid(i);
    if (random() < 0.8) {
      for (let k = 1 + Math.floor(random() * 2); k > 0; k--) {
        row[Math.floor(random() * row.length)] = hostile[Math.floor(random() * hostile.length)]!;
      }
    }
    lines.push(row.map(csvField).join(','));
  }
  return lines.join('\n');
}

async function imported(kind: 'baskets' | 'products' | 'members', csv: string) {
  const rejected: RejectedRow[] = [];
  const importer = { baskets: importBaskets, products: importProducts, members: importMembers }[kind];
  const summary = await importer(getDeps(), [csv], { timeZone: 'America/New_York', onReject: (r) => void rejected.push(r), batchSize: 50 });
  expect(summary.rows).toBe(summary.imported + summary.rejected);
  expect(rejected).toHaveLength(summary.rejected);
  for (const r of rejected) {
    expect(r.line).toBeGreaterThan(1);
    expect(r.field).not.toBe('');
    expect(r.reason).not.toBe('');
  }
  return { summary, rejected };
}

const count = async (table: 'baskets' | 'basket_lines' | 'products' | 'members') =>
  (await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}`.execute(getDeps().db)).rows[0]!.n;

describe('CSV imports under hostile rows', () => {
  it('baskets: every bad row rejected with its column, every good basket stored whole', async () => {
    const header = ['card', 'txn', 'ts', 'store_id', 'terminal_id', 'gtin', 'qty', 'unit_price_cents', 'line_discount_cents'];
    // one line per basket, so a rejected line is a rejected basket
    const csv = hostileFile(header, (i) => [`40000000${1000 + (i % 50)}`, `fuzz-${i}`, '2026-03-08T10:00:00-05:00', '1', 'T01', gtin13(1 + (i % 3)), '1', '199', '0'], 400, 7);
    const before = await count('baskets');
    const { summary } = await imported('baskets', csv);
    expect(summary.rejected).toBeGreaterThan(100);
    expect(summary.imported).toBeGreaterThan(50);
    expect(await count('baskets')).toBe(before + summary.created!);
  });

  it('products and members: bad rows rejected, the rest upserted', async () => {
    const products = hostileFile(['gtin', 'name', 'category_id', 'brand', 'brand_type', 'size', 'price_cents'],
      (i) => [gtin13(7000 + i), `Fuzz product ${i}`, 'milk', 'Acme', 'national', '1l', '129'], 300, 11);
    const p = await imported('products', products);
    expect(p.summary.rejected).toBeGreaterThan(50);
    expect(p.summary.imported).toBeGreaterThan(50);

    const members = hostileFile(['member_number', 'card_number', 'home_store_id', 'household_size', 'has_dog', 'enrolled_on', 'first_name', 'email'],
      (i) => [`FZ${i}`, `41000000${1000 + i}`, '1', '2', 'no', '2024-05-01', 'Ann', `ann${i}@example.com`], 300, 13);
    const before = await count('members');
    const m = await imported('members', members);
    expect(m.summary.rejected).toBeGreaterThan(50);
    expect(m.summary.imported).toBeGreaterThan(50);
    expect(await count('members')).toBeGreaterThan(before);
  });
});
