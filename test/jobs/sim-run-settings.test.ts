import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { runSimLoop, type LoopSummary } from '../../src/jobs/sim-run.ts';
import { defaultRuleSet, staticRules, type RuleSet } from '../../src/rules/rule-set.ts';
import { generateChain, loadSimChain } from '../../src/sim/index.ts';
import { dbKind, useTestDeps } from '../support/db.ts';

// `sim run` on a tiny chain (history through Sat 2026-10-31) whose marketer changes the list grid
// between two runs: 14-day periods from Monday, then weekly periods from Wednesday. The loop
// builds the period the server's list job builds by default (jobs/lists.ts currentPeriod), so the
// settings change moves the next period instead of stopping the run on a 409.

const TZ = 'America/New_York';
const getDeps = useTestDeps();
const weekly: RuleSet = {
  ...defaultRuleSet,
  settings: {
    ...defaultRuleSet.settings,
    lists: { ...defaultRuleSet.settings.lists, periodDays: 7, weekday: 'wednesday' },
  },
};
let first: LoopSummary;

beforeAll(async () => {
  const deps = getDeps();
  deps.rules = staticRules(defaultRuleSet);
  await loadSimChain(deps, generateChain({ seed: 4, members: 40, stores: 1, weeks: 16, endDate: '2026-10-31', timeZone: TZ }));
  first = await runSimLoop(deps, { days: 3, analyse: 'period' });
}, 120_000);

describe(`sim run after lists.period_days and lists.weekday change on ${dbKind}`, () => {
  it('follows the server: the built period stays, the next starts the day after it, then the new grid', async () => {
    expect(first.periods.map((p) => [p.periodStart, p.built])).toEqual([['2026-10-26', true]]);
    const deps = getDeps();
    deps.rules = staticRules(weekly);
    // Nov 1–3 replay; the old grid's period runs to Sun Nov 8. The new grid's week holding Nov 9
    // (Wed Nov 4 – Tue 10) would leave 2 days: joined to the next week, Nov 9 – 17. Then Wed Nov 18.
    const second = await runSimLoop(deps, { days: 18, analyse: 'period' });
    expect(second).toMatchObject({ firstDate: '2026-11-01', lastDate: '2026-11-18', days: 18 });
    expect(second.periods.map((p) => [p.periodStart, p.built])).toEqual([
      ['2026-10-26', false],
      ['2026-11-09', true],
      ['2026-11-18', true],
    ]);
    const { rows } = await sql<{ period_start: string; period_end: string }>`
      select period_start::text, period_end::text from list_periods where status = 'done' order by period_start`.execute(deps.db);
    expect(rows).toEqual([
      { period_start: '2026-10-26', period_end: '2026-11-08' },
      { period_start: '2026-11-09', period_end: '2026-11-17' },
      { period_start: '2026-11-18', period_end: '2026-11-24' },
    ]);
    // the lanes scanned the lists of the new periods: baskets on their days went through checkout
    const { rows: days } = await sql<{ n: number }>`
      select count(*)::int as n from baskets
      where source = 'checkout' and (ts at time zone ${TZ})::date between '2026-11-09' and '2026-11-18'`.execute(deps.db);
    expect(days[0]!.n).toBeGreaterThan(0);
  }, 180_000);
});
