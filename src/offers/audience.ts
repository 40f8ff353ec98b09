import { sql, type RawBuilder } from 'kysely';
import { textArray } from '../db/index.ts';
import type { CampaignSpec } from './spec.ts';

/**
 * The audience conditions on a member's scores and traits, as one SQL predicate over a
 * `member_scores` row aliased `s`: qualified_only, tiers, stages, churn_risk, traits, and every
 * `exclude` condition. The list job (assign.ts) and the rules-check preview (src/rules/preview.ts)
 * both filter with this, so the preview reaches exactly the members the list job would consider.
 * The campaign's own `cells` are not here: each caller matches them against the category it ranks.
 *
 * Exclusion: a member matching any `exclude` condition is left out. `exclude.churn_risk: true`
 * leaves out churn-flagged members, `false` leaves out members who are not flagged (as
 * `exclude.tiers: [key]` leaves out members whose tier is key); absent, it excludes nobody.
 *
 * `promotedCategories` is a `text[]` expression: excluded cells are the member's cells in those.
 */
export function audienceWhere(
  a: CampaignSpec['audience'],
  promotedCategories: RawBuilder<unknown>,
): RawBuilder<boolean> {
  const ex = a.exclude;
  const exL = ex.cells.map((x) => x.loyalty);
  const exV = ex.cells.map((x) => x.volume);
  return sql<boolean>`(${!a.qualifiedOnly} or s.qualified)
      and (cardinality(${textArray(a.tiers)}) = 0 or s.tier = any(${textArray(a.tiers)}))
      and (cardinality(${textArray(a.stages)}) = 0 or s.stage = any(${textArray(a.stages)}))
      and (${a.churnRisk}::boolean is null or s.churn_risk = ${a.churnRisk}::boolean)
      and (cardinality(${textArray(a.traits)}) = 0 or exists (
            select 1 from member_traits t where t.member_id = s.member_id and t.trait = any(${textArray(a.traits)})))
      and not exists (
            select 1 from member_traits t where t.member_id = s.member_id and t.trait = any(${textArray(ex.traits)}))
      and not (s.tier = any(${textArray(ex.tiers)}) or s.stage = any(${textArray(ex.stages)}))
      and (${ex.churnRisk}::boolean is null or s.churn_risk <> ${ex.churnRisk}::boolean)
      and not exists (
            select 1 from member_category_cells xc
            join unnest(${textArray(exL)}, ${textArray(exV)}) as nope(loyalty, volume)
              on (nope.loyalty = '*' or nope.loyalty = xc.loyalty) and (nope.volume = '*' or nope.volume = xc.volume)
            where xc.member_id = s.member_id and xc.category_id = any(${promotedCategories}))`;
}
