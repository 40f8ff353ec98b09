import { sql } from 'kysely';
import { textArray, withTx, type Db } from '../db/index.ts';
import type { TraitRule } from '../rules/settings.ts';
import { windowStart } from './cells.ts';
import { tuneSession } from './cycles.ts';
import { purchaseLinesFor, type PurchaseLines } from './purchase-lines.ts';
import { saveSnapshot } from './repo.ts';

export interface TraitsOptions {
  asOf: Date;
  timeZone: string;
  traits: readonly TraitRule[];
  /** The scan lines prepared by the nightly job (see purchase-lines.ts); built here when absent. */
  lines?: PurchaseLines | undefined;
}

export interface TraitsSummary {
  /** Members per trait, every rule listed (0 when nobody qualifies). */
  members: Record<string, number>;
  /** Categories named by a rule that the catalogue does not have: those parts match nobody. */
  unknownCategories: Array<{ trait: string; categoryId: string }>;
}

/**
 * Household traits from rules/traits.yaml, all rules in one statement.
 *
 * For rule r with categories C_r and window W_r (its last `within_weeks` local weeks):
 *   days_r(m)  = local days on which m bought (qty > 0) any category of C_r within W_r
 *   share_r(m) = Σ line spend in C_r within W_r / Σ basket totals of m within W_r
 *   rank_r(m)  = rank of share_r(m), descending, among members who bought C_r
 *   m has r ⇔ days_r(m) ≥ min_purchase_days
 *             ∧ (min_spend_share unset ∨ share_r(m) ≥ min_spend_share)
 *             ∧ (top_share unset ∨ rank_r(m) ≤ top_share · #members with positive spend in W_r)
 *
 * Replaces the table's contents in one transaction.
 */
export async function computeTraits(db: Db, opts: TraitsOptions): Promise<TraitsSummary> {
  const { asOf, timeZone, traits } = opts;
  const at = asOf.toISOString();
  const rules = traits.map((t) => ({ ...t, from: windowStart(asOf, t.withinWeeks, timeZone).at }));
  const pairs = rules.flatMap((r) =>
    r.categories.map((categoryId) => ({ trait: r.id, categoryId })),
  );
  const earliest = rules.reduce<string | null>(
    (min, r) => (min === null || r.from < min ? r.from : min),
    null,
  );

  return withTx(db, async (tx) => {
    await tuneSession(tx);
    await sql`delete from member_traits`.execute(tx);
    if (rules.length > 0 && earliest !== null) {
      const { lines, release } = await purchaseLinesFor(tx, opts);
      await sql`
        insert into member_traits (member_id, trait)
        with rule as (
          select * from unnest(${textArray(rules.map((r) => r.id))},
                               ${textArray(rules.map((r) => r.from))},
                               ${textArray(rules.map((r) => r.minPurchaseDays))},
                               ${textArray(rules.map((r) => r.minSpendShare))},
                               ${textArray(rules.map((r) => r.topShare))})
            as r(trait, from_text, min_days, min_share, top_share)
        ),
        typed_rule as (
          select trait, from_text::timestamptz as from_at, min_days::int as min_days,
                 min_share::float8 as min_share, top_share::float8 as top_share
          from rule
        ),
        rule_category as (
          select * from unnest(${textArray(pairs.map((p) => p.trait))},
                               ${textArray(pairs.map((p) => p.categoryId))}) as rc(trait, category_id)
        ),
        bought as (
          select l.member_id, rc.trait,
                 count(distinct l.day) filter (where l.qty_milli > 0) as days,
                 sum(l.spend_cents) as spend_cents
          from ${lines.table} l
          join rule_category rc on rc.category_id = l.category_id
          join typed_rule r on r.trait = rc.trait
          where l.ts >= ${earliest}::timestamptz and l.ts >= r.from_at
          group by l.member_id, rc.trait
        ),
        member_spend as (
          -- only rules that look at shares need each member's total
          select b.member_id, r.trait, sum(b.total_cents) as spend_cents
          from baskets b
          join typed_rule r on b.ts >= r.from_at
          where b.member_id <> 0 and b.ts >= ${earliest}::timestamptz and b.ts < ${at}::timestamptz
            and (r.min_share is not null or r.top_share is not null)
          group by b.member_id, r.trait
        ),
        spenders as (
          select trait, count(*) as members from member_spend where spend_cents > 0 group by trait
        ),
        scored as (
          select x.member_id, x.trait, x.days, r.min_days, r.min_share, r.top_share,
                 x.spend_cents::float8 / nullif(ms.spend_cents, 0) as share,
                 rank() over (partition by x.trait
                              order by x.spend_cents::float8 / nullif(ms.spend_cents, 0) desc nulls last)
                   as share_rank
          from bought x
          join typed_rule r using (trait)
          left join member_spend ms using (member_id, trait)
        )
        select s.member_id, s.trait
        from scored s
        left join spenders n using (trait)
        where s.days >= s.min_days
          and (s.min_share is null or s.share >= s.min_share)
          and (s.top_share is null or (s.share > 0 and s.share_rank <= s.top_share * n.members))`.execute(
        tx,
      );
      await release();
    }
    await saveSnapshot(tx, 'traits', asOf, timeZone);

    const counts = await tx
      .selectFrom('member_traits')
      .select(['trait', (eb) => eb.fn.countAll<number>().as('members')])
      .groupBy('trait')
      .execute();
    const members = Object.fromEntries(rules.map((r) => [r.id, 0]));
    for (const c of counts) members[c.trait] = Number(c.members);
    const known = new Set(
      pairs.length === 0
        ? []
        : (
            await tx
              .selectFrom('categories')
              .select('id')
              .where('id', 'in', [...new Set(pairs.map((p) => p.categoryId))])
              .execute()
          ).map((r) => r.id),
    );
    return { members, unknownCategories: pairs.filter((p) => !known.has(p.categoryId)) };
  });
}
