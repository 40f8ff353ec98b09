import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readRuleFiles } from '../../src/rules/node.ts';
import {
  cellMatches,
  formatIssue,
  parseRuleSet,
  RuleFileError,
  type RuleFileText,
} from '../../src/rules/index.ts';

const rulesDir = new URL('../../rules', import.meta.url).pathname;
const shipped = readRuleFiles(rulesDir);

/** A valid campaign, as lines, so each test can break one line and know where it is. */
const base = [
  'id: coffee-trial', // 1
  'name: Try our coffee', // 2
  'active:', // 3
  '  from: 2026-11-01', // 4
  '  to: 2026-12-31', // 5
  'promotes:', // 6
  '  categories: [coffee]', // 7
  '  brand_type: store', // 8
  'audience:', // 9
  '  cells: [national/*, "*/high"]', // 10
  'offer:', // 11
  '  kind: percent_off', // 12
  '  ladder:', // 13
  '    low: 10', // 14
  '    medium: 20', // 15
  '    high: 30', // 16
  'timing:', // 17
  '  open_days_before: 3', // 18
  '  valid_days: 14', // 19
  'holdout_percent: 10', // 20
];

function withLines(edit: (lines: string[]) => void): string {
  const lines = [...base];
  edit(lines);
  return `${lines.join('\n')}\n`;
}

async function parseCampaign(text: string, name = 'campaigns/x.yaml', extra: RuleFileText[] = []) {
  return parseRuleSet([{ name, text }, ...extra]);
}

async function issuesOf(text: string, extra: RuleFileText[] = []) {
  try {
    await parseCampaign(text, 'campaigns/x.yaml', extra);
  } catch (err) {
    if (err instanceof RuleFileError) return err.issues;
    throw err;
  }
  throw new Error('expected the campaign to be refused');
}

describe('campaign files', () => {
  it('parses a valid campaign into the engine shape', async () => {
    const { rules } = await parseCampaign(`${base.join('\n')}\n`);
    const c = rules.campaigns[0]!;
    expect(c).toMatchObject({
      id: 'coffee-trial',
      file: 'rules/campaigns/x.yaml',
      activeFrom: '2026-11-01',
      activeTo: '2026-12-31',
      promotes: { categories: ['coffee'], gtins: [], brands: [], brandType: 'store' },
      audience: { cells: ['national/*', '*/high'], qualifiedOnly: true, churnRisk: null },
      offer: { kind: 'percent_off', ladder: { low: 10, medium: 20, high: 30 }, laddered: true, minQty: 1 },
      timing: { mode: 'predicted', openDaysBefore: 3, validDays: 14, minPurchaseProbability: 0 },
      holdoutPercent: 10,
      priority: 50,
    });
    expect(c.fileHash).toMatch(/^[0-9a-f]{64}$/);
  });

  // Each kind of mistake: its exact file:line:column and field.
  const cases: Array<[string, (l: string[]) => void, string]> = [
    [
      'a ladder step out of range',
      (l) => (l[15] = '    high: 120'),
      'rules/campaigns/x.yaml:16:5 offer.ladder.high: expected a percentage between 0 and 100',
    ],
    [
      'a percentage finer than the offers store it',
      (l) => (l[15] = '    high: 12.345'),
      'rules/campaigns/x.yaml:16:5 offer.ladder.high: expected at most 2 decimals (e.g. 12.5)',
    ],
    [
      'bad YAML',
      (l) => (l[9] = '  cells: [national/*,'),
      'rules/campaigns/x.yaml:11:1 (yaml):',
    ],
    [
      'a wrong type',
      (l) => (l[19] = 'holdout_percent: ten'),
      'rules/campaigns/x.yaml:20:1 holdout_percent: expected a percentage between 0 and 50',
    ],
    [
      'an unknown key, with a hint',
      (l) => (l[18] = '  valid_day: 14'),
      "rules/campaigns/x.yaml:19:3 timing.valid_day: unknown key; did you mean 'valid_days'?",
    ],
    [
      'an unknown key inside the offer kind',
      (l) => l.splice(16, 0, '    max_unit: 2'),
      "rules/campaigns/x.yaml:17:5 offer.ladder.max_unit: unknown key",
    ],
    [
      'an overlapping ladder',
      (l) => (l[14] = '    medium: 35'),
      'rules/campaigns/x.yaml:16:5 offer.ladder.high: ladder steps overlap: high (30) is shallower than medium (35)',
    ],
    [
      'holdout above 50%',
      (l) => (l[19] = 'holdout_percent: 60'),
      'rules/campaigns/x.yaml:20:1 holdout_percent: expected a percentage between 0 and 50',
    ],
    [
      'holdout below 0%',
      (l) => (l[19] = 'holdout_percent: -5'),
      'rules/campaigns/x.yaml:20:1 holdout_percent: expected a percentage between 0 and 50',
    ],
    [
      'an end before the start',
      (l) => (l[4] = '  to: 2026-10-31'),
      'rules/campaigns/x.yaml:5:3 active.to: ends before it starts (2026-10-31 is before 2026-11-01)',
    ],
    [
      'a bad cell pattern',
      (l) => (l[9] = '  cells: [national/*, "*/hihg"]'),
      'rules/campaigns/x.yaml:10:23 audience.cells[1]: expected loyalty/volume',
    ],
    [
      'an unknown offer kind',
      (l) => (l[11] = '  kind: percent'),
      'rules/campaigns/x.yaml:12:3 offer.kind: expected kind to be one of: percent_off, amount_off',
    ],
    [
      'a missing required field',
      (l) => l.splice(1, 1),
      'rules/campaigns/x.yaml:1:1 name: required',
    ],
    [
      'a bad date',
      (l) => (l[3] = '  from: 2026-02-30'),
      'rules/campaigns/x.yaml:4:3 active.from: expected a date as YYYY-MM-DD',
    ],
    [
      'a date the database cannot hold',
      (l) => (l[3] = '  from: 0000-01-01'),
      'rules/campaigns/x.yaml:4:3 active.from: expected a date between 1900-01-01 and 9999-01-01',
    ],
  ];
  for (const [what, edit, expected] of cases) {
    it(`names file, line, column and field for ${what}`, async () => {
      const issues = await issuesOf(withLines(edit));
      expect(issues.map(formatIssue).join('\n')).toContain(expected);
    });
  }

  it('names an empty section (a key with nothing after it, null in YAML) instead of "received null"', async () => {
    const audience = await issuesOf(withLines((l) => l.splice(9, 1)));
    expect(audience.map(formatIssue)).toEqual([
      'rules/campaigns/x.yaml:9:1 audience: empty — remove it to target everyone, or give cells, traits, tiers, stages, churn_risk or exclude',
    ]);
    const sections = await issuesOf(withLines((l) => {
      l[9] = '  exclude:';
      l.splice(17, 2);
      l[3] = '';
      l[4] = '';
    }));
    expect(sections.map(formatIssue)).toEqual([
      'rules/campaigns/x.yaml:3:1 active: empty — give some of: from, to',
      'rules/campaigns/x.yaml:10:3 audience.exclude: empty — remove it, or give some of: cells, traits, tiers, stages, churn_risk',
      'rules/campaigns/x.yaml:17:1 timing: empty — remove it, or give some of: open_days_before, valid_days, min_purchase_probability, fixed_window',
    ]);
  });

  it('reads dates of a %YAML 1.1 file (where a plain date is a timestamp) as the dates written', async () => {
    const v11 = await parseCampaign(withLines((l) => {
      l.splice(17, 2, '  fixed_window: { from: 2026-11-02, to: 2026-11-15 }');
      l.unshift('%YAML 1.1', '---');
    }));
    expect(v11.rules.campaigns[0]).toMatchObject({
      activeFrom: '2026-11-01',
      activeTo: '2026-12-31',
      timing: { mode: 'fixed', from: '2026-11-02', to: '2026-11-15' },
    });
    // YAML 1.1 would read 2026-02-30 as March 2nd: it is refused like any impossible date.
    const bad = await issuesOf(withLines((l) => {
      l[3] = '  from: 2026-02-30';
      l.unshift('%YAML 1.1', '---');
    }));
    expect(bad.map(formatIssue)).toEqual(['rules/campaigns/x.yaml:6:3 active.from: expected a date as YYYY-MM-DD']);
  });

  it('takes an unquoted date made a Date (!!timestamp) as its UTC date, and names one with a time of day', async () => {
    const tagged = await parseCampaign(withLines((l) => {
      l[3] = '  from: !!timestamp 2026-11-01';
      l[4] = '  to: !!timestamp 2026-12-31';
    }));
    expect(tagged.rules.campaigns[0]).toMatchObject({ activeFrom: '2026-11-01', activeTo: '2026-12-31' });
    const timed = await issuesOf(withLines((l) => (l[4] = '  to: !!timestamp 2026-12-31T10:00:00-05:00')));
    expect(timed.map(formatIssue)).toEqual([
      'rules/campaigns/x.yaml:5:3 active.to: expected a date as YYYY-MM-DD, not a date and time (2026-12-31T15:00:00.000Z)',
    ]);
  });

  it('reports every problem of a file at once, each at its own place', async () => {
    const issues = await issuesOf(
      withLines((l) => {
        l[15] = '    high: 120';
        l[19] = 'holdout_percent: 75';
        l[17] = '  open_day_before: 3';
      }),
    );
    expect(issues.map((i) => [i.line, i.column, i.path])).toEqual(
      expect.arrayContaining([
        [16, 5, 'offer.ladder.high'],
        [20, 1, 'holdout_percent'],
        [18, 3, 'timing.open_day_before'],
      ]),
    );
    expect(issues.find((i) => i.path === 'timing.open_day_before')!.message).toContain("did you mean 'open_days_before'");
  });

  it('checks offer kinds and timing against each other', async () => {
    const reward = [
      'id: thanks',
      'name: Thanks',
      'active: { from: 2026-01-01, to: 2026-12-31 }',
      'promotes: { categories: [coffee] }',
      'offer: { kind: reward_coupon, value_cents: 3000 }',
      'timing: { open_days_before: 2 }',
      'funding: { manufacturer: goldleaf, share: 0.5 }',
    ].join('\n');
    const found = (await issuesOf(reward)).map((i) => `${i.line} ${i.path}: ${i.message}`);
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^4 promotes: a reward coupon applies to the whole basket/),
        expect.stringMatching(/^6 timing.open_days_before: a reward coupon is not tied to a predicted purchase/),
        expect.stringMatching(/^7 funding: a reward coupon is paid by the store/),
      ]),
    );
    const both = await issuesOf(withLines((l) => l.splice(12, 0, '  percent: 10')));
    expect(both.map(formatIssue)).toContainEqual(expect.stringMatching(/:13:3 offer.percent: give either percent or ladder, not both/));
    const neither = await issuesOf(withLines((l) => l.splice(12, 4)));
    expect(neither.map(formatIssue)).toContainEqual(expect.stringMatching(/:11:1 offer: a percent_off offer needs percent or a ladder/));
    const fixed = await issuesOf(withLines((l) => l.splice(19, 0, '  fixed_window: { from: 2026-12-01, to: 2026-11-01 }')));
    expect(fixed.map((i) => i.path)).toEqual(
      expect.arrayContaining(['timing.fixed_window.to', 'timing.open_days_before', 'timing.valid_days']),
    );
  });

  it('refuses cells on a reward coupon, which promotes no category to have a cell in', async () => {
    const reward = [
      'id: thanks',
      'name: Thanks',
      'active: { from: 2026-01-01, to: 2026-12-31 }',
      'audience:',
      '  cells: [national/high]',
      '  exclude: { cells: [store/*] }',
      'offer: { kind: reward_coupon, value_cents: 3000 }',
    ].join('\n');
    const found = (await issuesOf(reward)).map(formatIssue);
    expect(found).toEqual([
      expect.stringMatching(/x\.yaml:5:3 audience\.cells: a reward coupon promotes no category/),
      expect.stringMatching(/x\.yaml:6:14 audience\.exclude\.cells: a reward coupon promotes no category/),
    ]);
  });

  it('accepts GTINs written as numbers (YAML drops their leading zeros) and refuses bad check digits', async () => {
    const ok = await parseCampaign(withLines((l) => (l[6] = '  gtins: [0012345678905, "0012345678905"]')));
    expect(ok.rules.campaigns[0]!.promotes!.gtins).toEqual(['00012345678905']);
    const bad = await issuesOf(withLines((l) => (l[6] = '  gtins: [0012345678900, "12345678905"]')));
    expect(bad.map(formatIssue)).toEqual(
      expect.arrayContaining([
        'rules/campaigns/x.yaml:7:11 promotes.gtins[0]: not a GTIN: bad check digit: expected 5',
        'rules/campaigns/x.yaml:7:26 promotes.gtins[1]: not a GTIN: a GTIN has 8, 12, 13 or 14 digits, not 11',
      ]),
    );
  });
});

describe('a rules folder', () => {
  it('ships example campaigns and content that validate', async () => {
    const { rules } = await parseRuleSet(shipped);
    expect(rules.campaigns.map((c) => c.id).sort()).toEqual([
      'analgesic-store-brand',
      'baby-essentials',
      'churn-winback-key',
      'pet-food-owners',
      'relievo-keep-switchers',
      'strategic-reward',
      'strategic-reward-key',
      'vegetable-lovers',
    ]);
    const byId = new Map(rules.campaigns.map((c) => [c.id, c]));
    // The 9-cell case: national-brand (and switcher) buyers, store brand promoted, deepest for heavy users.
    expect(byId.get('analgesic-store-brand')).toMatchObject({
      promotes: { categories: ['analgesics'], brandType: 'store' },
      audience: { cells: ['national/*', 'switcher/*'] },
      offer: { kind: 'percent_off', laddered: true },
    });
    const ladder = byId.get('analgesic-store-brand')!.offer.ladder!;
    expect(ladder.high).toBeGreaterThan(ladder.medium);
    expect(ladder.medium).toBeGreaterThan(ladder.low);
    expect(byId.get('relievo-keep-switchers')).toMatchObject({ funding: { manufacturerId: 'meridian' }, audience: { cells: ['switcher/*'] } });
    for (const id of ['strategic-reward', 'strategic-reward-key']) {
      const c = byId.get(id)!;
      expect(c.offer.kind).toBe('reward_coupon');
      expect(c.offer.valueCents).toBeGreaterThanOrEqual(3000);
      expect(c.offer.valueCents).toBeLessThanOrEqual(4000);
      expect(c.audience.stages).toEqual(['strategic']);
    }
    expect(byId.get('churn-winback-key')!.audience).toMatchObject({ tiers: ['key'], churnRisk: true });
    expect(rules.content.map((c) => c.kind).sort()).toEqual(
      expect.arrayContaining(['health_note', 'meal_plan', 'perk', 'recipe', 'tip']),
    );
    expect(rules.settings.lists.maxOffers).toBe(12);
    expect(rules.files.length).toBe(shipped.length);
  });

  it('checks what files say about each other: traits, content ids, unique ids', async () => {
    const campaign = withLines((l) => {
      l[9] = '  traits: [dog_ownr]';
      l.push('content: [roasted-vegetable-tay]');
    });
    const content = shipped.filter((f) => f.name.startsWith('content/'));
    const issues = await issuesOf(campaign, [...content, { name: 'campaigns/y.yaml', text: campaign.replace('dog_ownr', 'dog_owner').replace('roasted-vegetable-tay', 'roasted-vegetable-tray') }]);
    const text = issues.map(formatIssue);
    expect(text).toContainEqual(expect.stringMatching(/^rules\/campaigns\/x\.yaml:10:12 audience\.traits\[0\]: unknown trait dog_ownr .*did you mean dog_owner\?$/));
    expect(text).toContainEqual('rules/campaigns/x.yaml:21:11 content[0]: unknown content id roasted-vegetable-tay; did you mean roasted-vegetable-tray?');
    expect(text).toContainEqual('rules/campaigns/y.yaml:1:1 id: campaign id coffee-trial is already used by rules/campaigns/x.yaml');
  });

  it('refuses files it does not expect, by name', async () => {
    await expect(parseRuleSet([{ name: 'setings.yaml', text: '' }])).rejects.toThrow(
      'rules/setings.yaml (file): not a rule file: expected settings.yaml, traits.yaml, campaigns/*.yaml or content/*.yaml; did you mean settings.yaml?',
    );
  });

  it('reads content files strictly too', async () => {
    const text = readFileSync(`${rulesDir}/content/perks.yaml`, 'utf8').replace('    suits:\n      tiers: [key]', '    suits:\n      tier: [key]');
    try {
      await parseRuleSet([{ name: 'content/perks.yaml', text }]);
      throw new Error('expected a refusal');
    } catch (err) {
      expect((err as RuleFileError).issues.map(formatIssue)).toContainEqual(
        "rules/content/perks.yaml:7:7 content[0].suits.tier: unknown key; did you mean 'tiers'?",
      );
    }
  });
});

describe('cell patterns', () => {
  it('match with wildcards on either axis', () => {
    expect(cellMatches('national/*', 'national', 'high')).toBe(true);
    expect(cellMatches('national/*', 'store', 'high')).toBe(false);
    expect(cellMatches('*/high', 'switcher', 'high')).toBe(true);
    expect(cellMatches('*/high', 'switcher', 'low')).toBe(false);
    expect(cellMatches('*/*', 'unclassified', 'unclassified')).toBe(true);
    expect(cellMatches('store/medium', 'store', 'medium')).toBe(true);
    expect(cellMatches('store/medium', 'store', 'high')).toBe(false);
  });
});
