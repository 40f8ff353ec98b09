import { sql } from 'kysely';
import { textArray, type Db } from '../db/index.ts';
import type { ParsedRules } from './rule-set.ts';
import { didYouMean, type RuleFileIssue } from './yaml.ts';

export interface ReferenceCheck {
  issues: RuleFileIssue[];
  /** Things not checked, and why (an empty catalogue). */
  warnings: string[];
}

/**
 * Checks what rule files name in the catalogue: categories (campaigns, content, traits), GTINs,
 * brands and manufacturers; that every campaign's promotes matches at least one product; and that
 * a funding manufacturer makes at least one promoted product. A handful of indexed lookups, however
 * many campaigns there are. A chain with an empty catalogue (nothing imported yet) gets a warning
 * instead, so a fresh install can start with the shipped examples.
 */
export async function checkReferences(db: Db, parsed: ParsedRules): Promise<ReferenceCheck> {
  const { rules, sources } = parsed;
  const issues: RuleFileIssue[] = [];
  const at = (file: string, path: PropertyKey[], message: string) =>
    issues.push(sources.get(file)?.issue(path, message) ?? { file, line: null, column: null, path: path.join('.'), message });

  const counts = await sql<{ categories: number; products: number }>`
    select (select count(*) from categories)::int as categories,
           (select count(*) from products where known)::int as products`.execute(db);
  const { categories: categoryCount, products: productCount } = counts.rows[0]!;
  if (categoryCount === 0 || productCount === 0) {
    return {
      issues,
      warnings: ['the catalogue is empty: categories, GTINs, brands and manufacturers were not checked'],
    };
  }

  const categories = new Set(
    (await db.selectFrom('categories').select('id').execute()).map((r) => r.id),
  );
  const manufacturers = new Set(
    (await db.selectFrom('manufacturers').select('id').execute()).map((r) => r.id),
  );
  const brands = new Set(
    (
      await db.selectFrom('products').select('brand').distinct().where('brand', 'is not', null).execute()
    ).map((r) => r.brand!),
  );
  const gtins = [...new Set(rules.campaigns.flatMap((c) => c.promotes?.gtins ?? []))];
  const knownGtins = new Set(
    gtins.length
      ? (await db.selectFrom('products').select('gtin').where('gtin', '=', sql<string>`any(${textArray(gtins)})`).execute()).map(
          (r) => r.gtin,
        )
      : [],
  );

  const checkCategory = (file: string, path: PropertyKey[], id: string) => {
    if (categories.has(id)) return;
    const hint = didYouMean(id, [...categories]);
    at(file, path, `unknown category ${id}${hint ? `; did you mean ${hint}?` : ''}`);
  };

  for (const c of rules.campaigns) {
    const p = c.promotes;
    if (p) {
      p.categories.forEach((id, i) => checkCategory(c.file, ['promotes', 'categories', i], id));
      p.gtins.forEach((g, i) => {
        if (!knownGtins.has(g)) at(c.file, ['promotes', 'gtins', i], `unknown GTIN ${g}: not in the catalogue`);
      });
      p.brands.forEach((b, i) => {
        if (brands.has(b)) return;
        const hint = didYouMean(b, [...brands]);
        at(c.file, ['promotes', 'brands', i], `unknown brand ${b}${hint ? `; did you mean ${hint}?` : ''}`);
      });
    }
    if (c.funding && !manufacturers.has(c.funding.manufacturerId)) {
      const hint = didYouMean(c.funding.manufacturerId, [...manufacturers]);
      at(c.file, ['funding', 'manufacturer'], `unknown manufacturer ${c.funding.manufacturerId}${hint ? `; did you mean ${hint}?` : ''}`);
    }
  }
  for (const item of rules.content) {
    const index = rules.content.filter((x) => x.file === item.file).indexOf(item);
    item.suits.categories.forEach((id, i) => checkCategory(item.file, ['content', index, 'suits', 'categories', i], id));
  }
  const traitsFile = rules.files.find((f) => /traits\.yaml$/.test(f.path))?.path;
  if (traitsFile) {
    for (const t of rules.traits) {
      t.categories.forEach((id, i) => checkCategory(traitsFile, ['traits', t.id, 'categories', i], id));
    }
  }
  if (issues.length > 0) return { issues, warnings: [] };

  // Only once every name is known: does each promotes match products, and is the funder among them?
  for (const c of rules.campaigns) {
    if (!c.promotes) continue;
    const makers = await sql<{ manufacturer_id: string | null; products: number }>`
      select p.manufacturer_id, count(*)::int as products
      from products p
      where ${promotedProductsWhere(c.promotes)}
      group by p.manufacturer_id`.execute(db);
    if (makers.rows.length === 0) {
      at(c.file, ['promotes'], 'matches no product in the catalogue (its filters all have to hold)');
    } else if (c.funding && !makers.rows.some((r) => r.manufacturer_id === c.funding!.manufacturerId)) {
      at(
        c.file,
        ['funding', 'manufacturer'],
        `${c.funding.manufacturerId} makes none of the promoted products (made by ${makers.rows
          .map((r) => r.manufacturer_id ?? 'unknown')
          .join(', ')})`,
      );
    }
  }
  return { issues, warnings: [] };
}

/**
 * SQL condition on `products p` for a campaign's promoted products: listed in gtins, or matching
 * every filter given among categories, brands and brand_type. Parameters only.
 */
export function promotedProductsWhere(p: {
  categories: string[];
  gtins: string[];
  brands: string[];
  brandType: 'national' | 'store' | null;
}) {
  const hasFilter = p.categories.length > 0 || p.brands.length > 0 || p.brandType !== null;
  const filter = hasFilter
    ? sql`(${p.categories.length ? sql`p.category_id = any(${textArray(p.categories)})` : sql`true`}
          and ${p.brands.length ? sql`p.brand = any(${textArray(p.brands)})` : sql`true`}
          and ${p.brandType ? sql`p.brand_type = ${p.brandType}` : sql`true`})`
    : sql`false`;
  const listed = p.gtins.length ? sql`p.gtin = any(${textArray(p.gtins)})` : sql`false`;
  return sql`p.known and (${listed} or ${filter})`;
}
