import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  RuleFileError,
  defaultSettings,
  defaultTraits,
  parseSettings,
  parseTraits,
} from '../../src/rules/settings.ts';

const shipped = (name: string) =>
  readFileSync(new URL(`../../rules/${name}`, import.meta.url), 'utf8');

/** The error a parse throws, for assertions on its issues. */
function errorOf(fn: () => unknown): RuleFileError {
  try {
    fn();
  } catch (err) {
    if (err instanceof RuleFileError) return err;
    throw err;
  }
  throw new Error('expected a RuleFileError');
}

describe('analytics settings', () => {
  it('ships rules/settings.yaml with exactly the built-in defaults', () => {
    expect(parseSettings(shipped('settings.yaml'))).toEqual(defaultSettings);
    expect(defaultSettings.cells).toEqual({
      lookbackWeeks: 52,
      nationalMaxStoreShare: 0.2,
      storeMinStoreShare: 0.8,
      minPurchaseDays: 3,
    });
    expect(defaultSettings.qualification).toEqual({ weeks: 8, minWeeklySpendCents: 2500 });
    expect(defaultSettings.tiers.keyMemberTopShare).toBe(0.15);
    expect(defaultSettings.stage).toEqual({
      developmentBelow: 0.05,
      stableFrom: 0.5,
      strategicFrom: 0.8,
    });
  });

  it('refuses a coupon prefix that is not 6–12 digits, naming the line', () => {
    expect(() => parseSettings('lists:\n  coupon_company_prefix: "12ab"\n')).toThrow(/2:\d+.*lists.coupon_company_prefix/);
  });

  it('has the list settings: period, weekday, max offers per list, due-soon items, coupons, paper, branding', () => {
    expect(defaultSettings.lists).toEqual({
      periodDays: 14,
      weekday: 'monday',
      maxOffers: 12,
      dueSoonItems: 10,
      couponCompanyPrefix: '0614141',
      paper: 'letter',
      branding: {
        chainName: 'Cadence Market',
        tagline: 'Your personal shopping list',
        color: '#1f6f43',
        footer: 'Thank you for shopping with us.',
      },
    });
    const s = parseSettings('lists:\n  period_days: 7\n  branding:\n    chain_name: Hilltop Foods\n');
    expect(s.lists).toMatchObject({ periodDays: 7, maxOffers: 12, branding: { chainName: 'Hilltop Foods' } });
    const bad = errorOf(() =>
      parseSettings('lists:\n  weekday: mondey\n  branding:\n    color: green\n    logo: x.png\n'),
    );
    expect(bad.issues.map((i) => [i.line, i.column, i.path])).toEqual(
      expect.arrayContaining([
        [2, 3, 'lists.weekday'],
        [4, 5, 'lists.branding.color'],
        [5, 5, 'lists.branding.logo'],
      ]),
    );
  });

  it('keeps the default of every key left out, including an empty file', () => {
    expect(parseSettings('')).toEqual(defaultSettings);
    expect(parseSettings('# nothing but a comment\n')).toEqual(defaultSettings);
    const s = parseSettings(
      'cells:\n  min_purchase_days: 5\nqualification:\n  min_weekly_spend_cents: 3000\n',
    );
    expect(s.cells).toEqual({ ...defaultSettings.cells, minPurchaseDays: 5 });
    expect(s.qualification).toEqual({ weeks: 8, minWeeklySpendCents: 3000 });
    expect(s.churn).toEqual(defaultSettings.churn);
  });

  it('names file, line and field of a bad value', () => {
    const text = 'cells:\n  lookback_weeks: 52\n  national_max_store_share: 1.5\n';
    const err = errorOf(() => parseSettings(text));
    expect(err.status).toBe(422);
    expect(err.issues).toEqual([
      expect.objectContaining({
        file: 'rules/settings.yaml',
        line: 3,
        path: 'cells.national_max_store_share',
      }),
    ]);
    expect(err.issues[0]!.column).toBe(3);
    expect(err.message).toContain('rules/settings.yaml:3:3 cells.national_max_store_share: ');
  });

  it('refuses unknown keys, each at its own line, rather than silently keeping a default', () => {
    const text = 'cells:\n  min_purchase_day: 4\nchurn:\n  min_visits: 3\nbudget: 1\n';
    const err = errorOf(() => parseSettings(text, 'chain/settings.yaml'));
    expect(err.issues.map((i) => [i.line, i.path, i.message])).toEqual(
      expect.arrayContaining([
        [2, 'cells.min_purchase_day', "unknown key; did you mean 'min_purchase_days'?"],
        [5, 'budget', expect.stringMatching(/^unknown key \(expected one of: cells, .*lists\)$/)],
      ]),
    );
    expect(err.issues.every((i) => i.file === 'chain/settings.yaml')).toBe(true);
  });

  it('checks thresholds against each other', () => {
    const cells = errorOf(() =>
      parseSettings('cells:\n  national_max_store_share: 0.6\n  store_min_store_share: 0.4\n'),
    );
    expect(cells.issues[0]).toMatchObject({ path: 'cells.store_min_store_share', line: 3 });
    const stage = errorOf(() => parseSettings('stage:\n  stable_from: 0.9\n'));
    expect(stage.issues[0]).toMatchObject({ path: 'stage.strategic_from', line: 1 });
  });

  it('reports wrong types and YAML syntax errors with their line', () => {
    const typed = errorOf(() => parseSettings('qualification:\n  weeks: eight\n'));
    expect(typed.issues[0]).toMatchObject({ path: 'qualification.weeks', line: 2 });
    const fractional = errorOf(() => parseSettings('qualification:\n  weeks: 2.5\n'));
    expect(fractional.issues[0]).toMatchObject({ path: 'qualification.weeks', line: 2 });
    const syntax = errorOf(() => parseSettings('cells:\n  lookback_weeks: [1,\n'));
    expect(syntax.issues[0]).toMatchObject({ path: '(yaml)', file: 'rules/settings.yaml' });
    expect(syntax.issues[0]!.line).toBeGreaterThanOrEqual(2);
    const duplicate = errorOf(() =>
      parseSettings('cells:\n  min_purchase_days: 2\n  min_purchase_days: 3\n'),
    );
    expect(duplicate.issues[0]).toMatchObject({ path: '(yaml)', line: 3 });
    const notAMap = errorOf(() => parseSettings('- 1\n- 2\n'));
    expect(notAMap.issues[0]).toMatchObject({ path: '(file)', line: 1 });
  });
});

describe('household trait rules', () => {
  it('ships rules/traits.yaml with exactly the built-in defaults', () => {
    expect(parseTraits(shipped('traits.yaml'))).toEqual(defaultTraits);
    expect(defaultTraits.map((t) => t.id)).toEqual([
      'dog_owner',
      'cat_owner',
      'baby',
      'vegetable_lover',
    ]);
    expect(defaultTraits.find((t) => t.id === 'baby')).toMatchObject({
      categories: ['diapers', 'baby_food'],
      minPurchaseDays: 2,
      minSpendShare: null,
      topShare: null,
    });
  });

  it('fills defaults and removes repeated categories', () => {
    expect(parseTraits('traits:\n  tea_drinker:\n    categories: [tea, tea]\n')).toEqual([
      {
        id: 'tea_drinker',
        label: null,
        categories: ['tea'],
        withinWeeks: 26,
        minPurchaseDays: 1,
        minSpendShare: null,
        topShare: null,
      },
    ]);
    expect(parseTraits('')).toEqual([]);
  });

  it('names file, line and field of a bad rule', () => {
    const text = [
      'traits:',
      '  dog_owner:',
      '    categories: [dog_food]',
      '    min_spend_share: 2',
      '  Bad Name:',
      '    categories: [x]',
      '  no_categories:',
      '    label: nothing to match',
      '  misspelt:',
      '    categories: [a]',
      '    within_week: 4',
      '',
    ].join('\n');
    const err = errorOf(() => parseTraits(text));
    const found = err.issues.map((i) => [i.line, i.path]);
    expect(found).toEqual(
      expect.arrayContaining([
        [4, 'traits.dog_owner.min_spend_share'],
        [5, 'traits.Bad Name'],
        [7, 'traits.no_categories.categories'],
        [11, 'traits.misspelt.within_week'],
      ]),
    );
    expect(err.issues.every((i) => i.file === 'rules/traits.yaml')).toBe(true);
  });
});
