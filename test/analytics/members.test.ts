import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { computeCells } from '../../src/analytics/cells.ts';
import { computeMemberScores, type MemberScoresSummary } from '../../src/analytics/members.ts';
import { defaultSettings } from '../../src/rules/settings.ts';
import { dbKind } from '../support/db.ts';
import { AS_OF, NY, SIM_YEAR, useSimYear } from './sim-year.ts';

// Qualification, tiers, share of wallet, stage and churn on a simulated chain (seed 2026,
// 600 members, 52 weeks) against its ground truth. Tolerances are stated per test; the figures
// measured are in the comments (seeds 2026, 5 and 77).

const settings = defaultSettings;
let summary: MemberScoresSummary;
const { getDeps, chain } = useSimYear(async (deps) => {
  const opts = { asOf: AS_OF, timeZone: NY, settings };
  await computeCells(deps.db, opts);
  summary = await computeMemberScores(deps.db, opts);
});

interface Scored {
  member_number: string;
  weekly_spend_cents: number;
  qualified: boolean;
  spend_cents: number;
  tier: string;
  share_of_wallet: number;
  stage: string;
  churn_risk: boolean;
  churn_reason: string | null;
  recent_spend_cents: number;
  prior_spend_cents: number;
  visit_gap_probability: number | null;
  true_share: number;
  churn_onset: string | null;
}

async function scored(): Promise<Scored[]> {
  const { rows } = await sql<Scored>`
    select m.member_number, s.weekly_spend_cents, s.qualified, s.spend_cents, s.tier, s.share_of_wallet,
           s.stage, s.churn_risk, s.churn_reason, s.recent_spend_cents, s.prior_spend_cents,
           s.visit_gap_probability, t.share_of_wallet::float8 as true_share,
           to_char(t.churn_onset_date, 'YYYY-MM-DD') as churn_onset
    from member_scores s
    join members m on m.id = s.member_id
    join sim_member_truth t on t.member_id = s.member_id`.execute(getDeps().db);
  return rows;
}

const trueStage = (share: number) =>
  share < 0.5 ? 'initial' : share < 0.8 ? 'stable' : 'strategic';

describe(`member scores on a simulated chain (${dbKind})`, () => {
  it('computes qualification exactly from the baskets of the last 8 weeks', async () => {
    // Exact, against the generator: spend of local dates 6 September – 31 October, over 8 weeks.
    const members = [...chain.members()].map((m) => m.memberNumber);
    const spend = new Map<string, { recent: number; year: number }>();
    for (const line of chain.basketLines()) {
      const date = line.ts.slice(0, 10);
      const amount = line.qty * line.unitPriceCents - line.lineDiscountCents;
      const s = spend.get(members[line.memberIndex]!) ?? { recent: 0, year: 0 };
      if (date >= '2026-09-06') s.recent += amount;
      if (date >= '2025-11-02') s.year += amount;
      spend.set(members[line.memberIndex]!, s);
    }
    const rows = await scored();
    expect(rows).toHaveLength(SIM_YEAR.members);
    for (const r of rows) {
      const s = spend.get(r.member_number) ?? { recent: 0, year: 0 };
      expect(r.weekly_spend_cents, r.member_number).toBe(Math.round(s.recent / 8));
      expect(r.qualified, r.member_number).toBe(s.recent >= 8 * 2500);
      expect(r.spend_cents, r.member_number).toBe(s.year);
    }
    expect(summary.qualified).toBe(rows.filter((r) => r.qualified).length);
    expect(summary.qualified).toBeGreaterThan(100);
  });

  it('makes the top 15% of spenders key members', async () => {
    const rows = (await scored()).filter((r) => r.spend_cents > 0);
    const key = rows.filter((r) => r.tier === 'key');
    // Tolerance: one member either way (ties and rounding of 15% of the spenders).
    expect(Math.abs(key.length - 0.15 * rows.length)).toBeLessThanOrEqual(1);
    const lowestKey = Math.min(...key.map((r) => r.spend_cents));
    const highestOther = Math.max(
      ...rows.filter((r) => r.tier !== 'key').map((r) => r.spend_cents),
    );
    expect(lowestKey).toBeGreaterThan(highestOther);
    expect(summary.key).toBe(key.length);
  });

  it('estimates share of wallet and the relationship stage', async () => {
    const rows = (await scored()).filter((r) => r.churn_onset === null);
    const right = rows.filter((r) => r.stage === trueStage(r.true_share)).length / rows.length;
    // Target: stage right for ≥ 70% of members. Measured 0.711 here for members who do not churn
    // (0.673 for all: a churner's truth is their share before the drift). With 3,000 members:
    // 0.707 / 0.706 / 0.717 on seeds 2026 / 7 / 5 (5 held out while choosing the weights), all
    // members 0.685 / 0.688 / 0.691. The estimate correlates 0.85–0.87 with the truth; what is
    // left is individual variation our own baskets cannot see (a household's trip rhythm and
    // consumption rhythms look like a different share of wallet), and the 0.5–0.8 band of
    // 'stable' is narrow. Deterministic, so the thin margin does not flake.
    expect(right).toBeGreaterThanOrEqual(0.7);
    const n = rows.length;
    const mean = (f: (r: Scored) => number) => rows.reduce((s, r) => s + f(r), 0) / n;
    const [mx, my] = [mean((r) => r.share_of_wallet), mean((r) => r.true_share)];
    const cov = mean((r) => (r.share_of_wallet - mx) * (r.true_share - my));
    const sd = (m: number, f: (r: Scored) => number) => Math.sqrt(mean((r) => (f(r) - m) ** 2));
    const corr = cov / (sd(mx, (r) => r.share_of_wallet) * sd(my, (r) => r.true_share));
    expect(corr).toBeGreaterThanOrEqual(0.75);
    // and it is ordered: the mean estimate rises with the true stage
    const byStage = (stage: string) => {
      const group = rows.filter((r) => trueStage(r.true_share) === stage);
      return group.reduce((s, r) => s + r.share_of_wallet, 0) / group.length;
    };
    expect(byStage('initial')).toBeLessThan(byStage('stable'));
    expect(byStage('stable')).toBeLessThan(byStage('strategic'));
  });

  it('warns of churn for most churners and few others, with a reason code', async () => {
    // Truly churning: onset at least 8 weeks before asOf (the chain's hold has decayed to a
    // third or less by then). Target: catch ≥ 70% with ≤ 10% false alarms among members who
    // never churn. Measured recall 0.86 / 0.86 / 0.95 and false alarms 0.073 / 0.061 / 0.068.
    const rows = await scored();
    const churners = rows.filter((r) => r.churn_onset !== null && r.churn_onset <= '2026-09-06');
    const loyal = rows.filter((r) => r.churn_onset === null);
    expect(churners.length).toBeGreaterThan(40);
    const recall = churners.filter((r) => r.churn_risk).length / churners.length;
    const falseAlarms = loyal.filter((r) => r.churn_risk).length / loyal.length;
    expect(recall).toBeGreaterThanOrEqual(0.8);
    expect(falseAlarms).toBeLessThanOrEqual(0.1);

    for (const r of rows.filter((x) => x.churn_risk)) {
      if (r.churn_reason === 'visit_gap') {
        expect(r.visit_gap_probability!).toBeLessThan(settings.churn.maxGapProbability);
      } else {
        expect(r.churn_reason).toBe('spend_drop');
        expect(r.prior_spend_cents).toBeGreaterThanOrEqual(settings.churn.minPriorSpendCents);
        expect(r.recent_spend_cents).toBeLessThan(
          settings.churn.spendDropBelow * r.prior_spend_cents,
        );
      }
    }
    expect(new Set(rows.filter((r) => r.churn_risk).map((r) => r.churn_reason))).toEqual(
      new Set(['visit_gap', 'spend_drop']),
    );
    expect(summary.churnRisk).toBe(rows.filter((r) => r.churn_risk).length);
  });
});
