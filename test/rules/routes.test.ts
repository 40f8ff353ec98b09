import { beforeAll, describe, expect, it } from 'vitest';
import { defaultRuleSet, LiveRules, parseRuleSet, RuleFileError, type RuleSet } from '../../src/rules/index.ts';
import { useTestDeps } from '../support/db.ts';
import { appWithKeys, seedCatalogue } from '../support/factories.ts';

const campaign = (id: string, extra = '') =>
  `id: ${id}\nname: Store-brand pain relief\nactive: { from: 2026-11-01, to: 2026-12-31 }\n` +
  `promotes: { categories: [analgesics], brand_type: store }\naudience: { cells: [national/*] }\n` +
  `offer: { kind: percent_off, ladder: { low: 10, medium: 20, high: 30 } }\n${extra}`;

let initial: RuleSet;
const live = new LiveRules(defaultRuleSet, null);
const getDeps = useTestDeps({ rules: live });
let api: Awaited<ReturnType<typeof appWithKeys>>;

beforeAll(async () => {
  initial = (
    await parseRuleSet([
      { name: 'campaigns/pain.yaml', text: campaign('pain') },
      { name: 'campaigns/old.yaml', text: campaign('old').replace('to: 2026-12-31', 'to: 2026-11-10') },
    ])
  ).rules;
  live.replace(initial, new Date('2026-11-24T10:00:00Z'));
  await seedCatalogue(getDeps());
  api = await appWithKeys(getDeps());
});

const yaml = (body: string, key: string, query = '', type = 'application/yaml') =>
  api.call('POST', `/v1/rules/preview${query}`, key, body, { 'content-type': type });

describe('GET /v1/rules', () => {
  it('lists the live campaigns with their file hash and whether they are active today', async () => {
    const res = await api.call('GET', '/v1/rules', api.keys.marketer);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ loadedAt: '2026-11-24T10:00:00.000Z', lastError: null, date: '2026-11-24' });
    expect(body.campaigns).toEqual([
      expect.objectContaining({ id: 'old', live: false, file: 'rules/campaigns/old.yaml', kind: 'percent_off' }),
      expect.objectContaining({ id: 'pain', live: true, hash: initial.campaigns.find((c) => c.id === 'pain')!.fileHash }),
    ]);
    expect(body.campaigns[1].hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('shows a refused reload, while the old rules stay live', async () => {
    live.fail(
      new RuleFileError('rules/campaigns/pain.yaml', [
        { file: 'rules/campaigns/pain.yaml', line: 12, column: 5, path: 'offer.ladder.high', message: 'expected a percentage between 0 and 100' },
      ]),
      new Date('2026-11-24T11:00:00Z'),
    );
    const rules = await (await api.call('GET', '/v1/rules', api.keys.marketer)).json();
    expect(rules.campaigns.map((c: { id: string }) => c.id)).toEqual(['old', 'pain']);
    expect(rules.lastError).toMatchObject({
      at: '2026-11-24T11:00:00.000Z',
      issues: [{ file: 'rules/campaigns/pain.yaml', line: 12, column: 5, path: 'offer.ladder.high' }],
    });
    expect(rules.lastError.message).toContain('rules/campaigns/pain.yaml:12:5 offer.ladder.high: expected a percentage');
    const status = await (await api.call('GET', '/v1/rules/status', api.keys.marketer)).json();
    expect(status).toMatchObject({ loadedAt: '2026-11-24T10:00:00.000Z', checkedAt: '2026-11-24T11:00:00.000Z' });
    expect(status.lastError.issues).toHaveLength(1);
    expect(status.files).toHaveLength(2);
    live.replace(initial, new Date('2026-11-24T12:00:00Z'));
    expect((await (await api.call('GET', '/v1/rules/status', api.keys.marketer)).json()).lastError).toBeNull();
  });
});

describe('POST /v1/rules/preview', () => {
  it('checks and previews a YAML campaign for a marketer', async () => {
    const res = await yaml(campaign('new-pain'), api.keys.marketer, '?file=rules/campaigns/new-pain.yaml');
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.ok).toBe(true);
    expect(body.preview).toMatchObject({
      campaignId: 'new-pain',
      file: 'rules/campaigns/new-pain.yaml',
      asOf: null,
      referencePriceCents: 549,
      costPerRedemptionCents: { low: 55, medium: 110, high: 165 },
    });
    expect(body.preview.notes).toContainEqual(expect.stringContaining('no analytics yet'));
  });

  it('answers 422 naming file, line, column and field of each mistake', async () => {
    const res = await yaml(
      campaign('bad', 'holdout_percent: 70\n').replace('high: 30', 'high: 130').replace('analgesics', 'analgesic'),
      api.keys.marketer,
      '?file=rules/campaigns/bad.yaml',
    );
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    const problem = await res.json();
    expect(problem.issues).toEqual(
      expect.arrayContaining([
        { file: 'rules/campaigns/bad.yaml', line: 6, column: 60, path: 'offer.ladder.high', message: 'expected a percentage between 0 and 100' },
        expect.objectContaining({ line: 7, column: 1, path: 'holdout_percent' }),
      ]),
    );
    expect(problem.detail).toContain('rules/campaigns/bad.yaml:6:60 offer.ladder.high: expected a percentage between 0 and 100');
    // References are checked once the file itself is valid.
    const refs = await (await yaml(campaign('bad').replace('analgesics', 'analgesic'), api.keys.marketer)).json();
    expect(refs.issues).toEqual([
      expect.objectContaining({ line: 4, column: 26, path: 'promotes.categories[0]', message: 'unknown category analgesic; did you mean analgesics?' }),
    ]);
  });

  it('refuses a body that is not YAML, an empty one, and other roles', async () => {
    const json = await api.call('POST', '/v1/rules/preview', api.keys.marketer, { id: 'x' });
    expect(json.status).toBe(422);
    expect((await json.json()).issues[0].message).toContain('send the campaign as YAML');
    expect((await yaml('  \n', api.keys.marketer)).status).toBe(422);
    expect((await yaml(campaign('x'), api.keys.vendor)).status).toBe(403);
    expect((await yaml(campaign('x'), api.keys.admin)).status).toBe(200);
  });
});

describe('POST /v1/rules/preview, hostile YAML', () => {
  it('refuses a file whose aliases expand without bound ("billion laughs") with 422, not a 500', async () => {
    const rows = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (const [name, prev] of [['b', 'a'], ['c', 'b'], ['d', 'c'], ['e', 'd']]) rows.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
    rows.push(`f: [${Array(9).fill('*e').join(',')}]`);
    const res = await yaml(`${rows.join('\n')}\n`, api.keys.marketer);
    expect(res.status).toBe(422);
    expect((await res.json()).issues).toEqual([
      expect.objectContaining({ path: '(yaml)', message: expect.stringMatching(/alias/i) }),
    ]);
  });
});
