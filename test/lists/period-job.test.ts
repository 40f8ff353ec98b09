import { join } from 'node:path';
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { createApiKey } from '../../src/auth/index.ts';
import { runAnalyse } from '../../src/jobs/analyse.ts';
import { currentPeriod, periodStartOn } from '../../src/jobs/lists.ts';
import { parseListBarcode, parseOfferBarcode } from '../../src/lists/barcodes.ts';
import { renderPrintBatch } from '../../src/lists/pdf.ts';
import { composeOptions, printBatchDocuments, storeListIds } from '../../src/lists/print.ts';
import { loadRuleFiles } from '../../src/rules/node.ts';
import { staticRules, type RuleSet } from '../../src/rules/rule-set.ts';
import { generateChain, loadSimChain } from '../../src/sim/index.ts';
import { dbKind, useTestDeps } from '../support/db.ts';
import { decode, pageCount, pageLines, pageTexts, rasterize } from './decode.ts';

// The shipped rules/ on a simulated chain: the period job issues the example campaigns' offers,
// lists render as PDF whose every barcode decodes back to the list and its offers, and the
// lane's scan of those barcodes finds the member.

let rules: RuleSet;
const getDeps = useTestDeps({ rules: staticRules() });
const TZ = 'America/New_York';
const PERIOD = '2026-11-02';
let keys: { admin: string; marketer: string; pos: string };

async function call(method: string, path: string, key: string, body?: unknown) {
  return createApp(getDeps()).request(path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** Runs `f` with the clock inside PERIOD (the member's current list is the one of today's period). */
async function duringPeriod<T>(f: () => Promise<T>): Promise<T> {
  const clock = getDeps().clock;
  const before = clock.now();
  clock.set('2026-11-05T15:00:00Z');
  try {
    return await f();
  } finally {
    clock.set(before);
  }
}

beforeAll(async () => {
  rules = await loadRuleFiles(join(import.meta.dirname, '..', '..', 'rules'));
  const deps = getDeps();
  deps.rules = staticRules(rules);
  await loadSimChain(deps, generateChain({ seed: 9, members: 500, stores: 2, weeks: 40, endDate: '2026-10-31' }));
  await runAnalyse(deps, { asOf: new Date('2026-11-01T04:00:00Z'), timeZone: TZ, rules });
  keys = {
    admin: (await createApiKey(deps, { name: 'a', role: 'admin' })).key,
    marketer: (await createApiKey(deps, { name: 'm', role: 'marketer' })).key,
    pos: (await createApiKey(deps, { name: 'p', role: 'pos', storeId: 1 })).key,
  };
}, 240_000);

describe(`list periods with the shipped rules on ${dbKind}`, () => {
  it('puts periods on the settings grid: every other Monday', () => {
    // anchored on the first Monday of 2026 (Jan 5): … Oct 26, Nov 9, Nov 23 …
    expect(periodStartOn('2026-11-09', 14, 'monday')).toBe('2026-11-09');
    expect(periodStartOn('2026-11-22', 14, 'monday')).toBe('2026-11-09');
    expect(periodStartOn('2026-11-23', 14, 'monday')).toBe('2026-11-23');
    expect(periodStartOn('2026-11-08', 14, 'monday')).toBe('2026-10-26');
    expect(periodStartOn('2026-11-10', 14, 'tuesday')).toBe('2026-11-10');
    expect(periodStartOn('2026-11-10', 7, 'monday')).toBe('2026-11-09');
  });

  it('builds the period through POST /v1/jobs/lists, and a rerun adds nothing', async () => {
    const first = await call('POST', '/v1/jobs/lists', keys.admin, { periodStart: PERIOD });
    expect(first.status).toBe(200);
    const s = (await first.json()) as any;
    expect(s.built).toBe(true);
    expect(s.lists).toBeGreaterThan(100);
    const byCampaign = Object.fromEntries(s.campaigns.map((c: any) => [c.campaignId, c]));
    expect(byCampaign['analgesic-store-brand'].offers).toBeGreaterThan(0);
    // the vendor-funded offer outranks the store-brand one for switchers (shared exclusive group)
    expect(byCampaign['relievo-keep-switchers'].offers).toBeGreaterThan(0);
    const funded = await sql<{ loyalty: string; funded_by: string; funded_share: number }>`
      select c.loyalty, o.funded_by, o.funded_share from offers o
      join member_category_cells c on c.member_id = o.member_id and c.category_id = 'analgesics'
      where o.campaign_id = 'relievo-keep-switchers' and o.period_start = ${PERIOD}::date`.execute(getDeps().db);
    for (const f of funded.rows) expect(f).toEqual({ loyalty: 'switcher', funded_by: 'meridian', funded_share: 0.75 });
    expect(byCampaign['strategic-reward-key'].offers + byCampaign['strategic-reward'].offers).toBeGreaterThan(0);
    // the analgesic offer goes to national and switcher buyers only, deepest for heavy users
    const { rows } = await sql<{ loyalty: string; volume: string; value: number }>`
      select c.loyalty, c.volume, o.value::float8 as value from offers o
      join member_category_cells c on c.member_id = o.member_id and c.category_id = 'analgesics'
      where o.campaign_id = 'analgesic-store-brand' and o.period_start = ${PERIOD}::date`.execute(getDeps().db);
    for (const r of rows) {
      expect(['national', 'switcher']).toContain(r.loyalty);
      expect(r.value).toBe({ low: 15, medium: 25, high: 40 }[r.volume as 'low']);
    }
    // the two strategic rewards share an exclusive group: one of them per member at most
    const dup = await sql<{ n: number }>`select count(*)::int as n from (
        select member_id from offers where period_start = ${PERIOD}::date
          and campaign_id in ('strategic-reward-key', 'strategic-reward') group by member_id having count(*) > 1) x`
      .execute(getDeps().db);
    expect(dup.rows[0]!.n).toBe(0);

    const again = (await (await call('POST', '/v1/jobs/lists', keys.admin, { periodStart: PERIOD })).json()) as any;
    expect(again).toMatchObject({ built: false, lists: s.lists, offers: s.offers });
    expect((await call('POST', '/v1/jobs/lists', keys.marketer, { periodStart: PERIOD })).status).toBe(403);
    expect((await call('POST', '/v1/jobs/lists', keys.admin, { periodStart: '2026-11-31' })).status).toBe(422);
  }, 120_000);

  it('renders a list with offers as a PDF whose barcodes decode to the list and its offers', async () => {
    const { rows } = await sql<{ list_id: number; member_number: string; card_number: string }>`
      select l.id as list_id, m.member_number, m.card_number from lists l join members m on m.id = l.member_id
      where l.period_start = ${PERIOD}::date and l.voided_at is null
        and exists (select 1 from offers o where o.list_id = l.id and o.kind <> 'reward' and not o.control)
      order by l.id limit 1`.execute(getDeps().db);
    const list = rows[0]!;
    const offers = await sql<{ id: number }>`select id from offers where list_id = ${list.list_id} and status = 'live' and not control order by id`
      .execute(getDeps().db);
    const res = await call('GET', `/v1/lists/${list.list_id}.pdf`, keys.marketer);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/pdf');
    const pdf = new Uint8Array(await res.arrayBuffer());
    const decoded = (await Promise.all(rasterize(pdf, 200).map(decode))).flat();
    const lists = decoded.flatMap((d) => {
      const p = parseListBarcode(d.text);
      return p.ok ? [Number(p.serial)] : [];
    });
    const offerSerials = decoded.flatMap((d) => {
      const p = parseOfferBarcode(d.text.startsWith('(') ? d.text : `]C1${d.text}`);
      return p.ok ? [Number(p.serial)] : [];
    });
    expect(lists).toEqual([list.list_id]);
    expect(offerSerials.sort()).toEqual(offers.rows.map((o) => o.id).sort());
    expect(decoded.map((d) => d.text)).toContain(list.card_number);

    const json = (await duringPeriod(() => call('GET', `/v1/members/${list.member_number}/lists/current`, keys.marketer)).then((r) => r.json())) as any;
    expect(json.listSerial).toBe(String(list.list_id));
    expect(json.offers.length + json.rewards.length).toBe(offers.rows.length);

    // the lane scans the list barcode and an offer barcode: both find the member
    for (const scan of [...decoded.map((d) => d.text).filter((t) => t.startsWith('L')), ...json.offers.map((o: any) => o.barcode.hri)]) {
      const who = await call('POST', '/v1/checkout/identify', keys.pos, { storeId: 1, identity: { scan } });
      expect(who.status, scan).toBe(200);
      expect(((await who.json()) as any).memberNumber).toBe(list.member_number);
    }
    const bad = await call('POST', '/v1/checkout/identify', keys.pos, { storeId: 1, identity: { scan: `L${list.list_id}Z` } });
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as any).issues[0].path).toBe('identity.scan');
  }, 120_000);

  it('never prints a holdout (control) offer', async () => {
    const { rows } = await sql<{ member_number: string; control_ids: number[] }>`
      select m.member_number, array_agg(o.id order by o.id) as control_ids
      from offers o join members m on m.id = o.member_id
      join lists l on l.member_id = o.member_id and l.period_start = o.period_start and l.voided_at is null
      where o.period_start = ${PERIOD}::date and o.control
      group by m.member_number order by m.member_number limit 5`.execute(getDeps().db);
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) {
      const json = (await duringPeriod(() => call('GET', `/v1/members/${r.member_number}/lists/current`, keys.marketer)).then((x) => x.json())) as any;
      const printed = [...json.offers, ...json.rewards].map((o: any) => Number(o.serial));
      for (const id of r.control_ids) expect(printed).not.toContain(id);
    }
    // nor can a lane redeem one: identify never offers it
    const who = (await (await call('POST', '/v1/checkout/identify', keys.pos, { storeId: 1, identity: { memberNumber: rows[0]!.member_number } })).json()) as any;
    for (const id of rows[0]!.control_ids) expect(who.offers.map((o: any) => o.offerId)).not.toContain(id);
  }, 60_000);

  it('prints a store batch: one PDF, every list of the store, in member order', async () => {
    const ids = await storeListIds(getDeps().db, 1, PERIOD);
    expect(ids.length).toBeGreaterThan(20);
    const some = ids.slice(0, 12);
    let seen = 0;
    const stream = renderPrintBatch(printBatchDocuments(getDeps().db, some, composeOptions(rules.settings, rules.content)), {
      paper: 'a4',
      total: some.length,
      onProgress: (p) => (seen = p.lists),
    });
    const chunks: Uint8Array[] = [];
    for await (const c of stream as unknown as AsyncIterable<Uint8Array>) chunks.push(c);
    const pdf = new Uint8Array(Buffer.concat(chunks));
    expect(seen).toBe(some.length);
    expect(pageCount(pdf)).toBeGreaterThanOrEqual(some.length);
    const first = (await decode(rasterize(pdf, 150, [0])[0]!)).map((d) => parseListBarcode(d.text)).find((p) => p.ok);
    expect(first && first.ok && Number(first.serial)).toBe(some[0]);
  }, 120_000);
});

describe('POST /v1/jobs/lists, dates PostgreSQL cannot hold', () => {
  it('refuses a period overlapping one already built (members would hold two sets of offers)', async () => {
    const built = await call('POST', '/v1/jobs/lists', keys.admin, { periodStart: PERIOD });
    expect(((await built.json()) as any).built).toBe(false);
    const res = await call('POST', '/v1/jobs/lists', keys.admin, { periodStart: '2026-11-09' });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { detail: string }).detail).toContain(`${PERIOD} – 2026-11-15`);
    const { rows } = await sql<{ n: number }>`
      select (select count(*) from offers where period_start = '2026-11-09')::int
           + (select count(*) from list_periods where period_start = '2026-11-09')::int as n`.execute(getDeps().db);
    expect(rows[0]!.n).toBe(0);
  });

  it('refuses a periodStart outside 1900–9999 with 422 naming it (was a 500)', async () => {
    for (const periodStart of ['0000-01-01', '9999-12-31']) {
      const res = await call('POST', '/v1/jobs/lists', keys.admin, { periodStart });
      expect(res.status, periodStart).toBe(422);
      expect(((await res.json()) as { issues: unknown }).issues).toEqual([{ path: 'periodStart', message: 'outside 1900-01-01 … 9999-01-01' }]);
    }
  });
  // Last: it voids the period's lists.
  it('shows a list a regenerate voided as voided, naming the list that replaced it, in JSON and on its PDF', async () => {
    const db = getDeps().db;
    const { rows: [old] } = await sql<{ id: number; member_id: number }>`
      select l.id, l.member_id from lists l
      where l.period_start = ${PERIOD}::date and l.voided_at is null
        and exists (select 1 from offers o where o.list_id = l.id and o.uses = 0 and not o.control)
      order by l.id limit 1`.execute(db);
    const live = await call('GET', `/v1/lists/${old!.id}`, keys.marketer);
    expect(await live.json()).toMatchObject({ status: 'live', replacedBy: null });

    const regen = await call('POST', '/v1/jobs/lists', keys.admin, { periodStart: PERIOD, regenerate: true });
    expect(regen.status).toBe(200);
    const { rows: [next] } = await sql<{ id: number }>`
      select id from lists where member_id = ${old!.member_id} and period_start = ${PERIOD}::date and voided_at is null`.execute(db);
    expect(next!.id).not.toBe(old!.id);

    const res = await call('GET', `/v1/lists/${old!.id}`, keys.marketer);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as any;
    expect(doc).toMatchObject({ listSerial: String(old!.id), status: 'voided', replacedBy: String(next!.id), offers: [] });
    const fresh = (await (await call('GET', `/v1/lists/${next!.id}`, keys.marketer)).json()) as any;
    expect(fresh).toMatchObject({ status: 'live', replacedBy: null });
    expect(fresh.offers.length).toBeGreaterThan(0);

    const pdf = await call('GET', `/v1/lists/${old!.id}.pdf`, keys.marketer);
    expect(pdf.status).toBe(200);
    const bytes = new Uint8Array(await pdf.arrayBuffer());
    const top = pageLines(bytes, 0).filter((l) => l.y < 200).map((l) => l.text);
    expect(top).toContain(`VOID — replaced by list ${next!.id}`);
    const freshPdf = new Uint8Array(await (await call('GET', `/v1/lists/${next!.id}.pdf`, keys.marketer)).arrayBuffer());
    expect(pageTexts(freshPdf).join('\n')).not.toContain('VOID');
  }, 120_000);
});

describe('the daily build after a marketer changes lists.period_days or lists.weekday', () => {
  // PERIOD (2026-11-02 – 2026-11-15) was built on the old grid (14 days from Monday); the new
  // grid is weekly from Wednesday: its periods 2026-11-04 – 10 and 11 – 17 overlap the built one.
  const weekly = (): RuleSet => ({
    ...rules,
    settings: { ...rules.settings, lists: { ...rules.settings.lists, periodDays: 7, weekday: 'wednesday' } },
  });
  async function withSettings<T>(at: string, f: () => Promise<T>): Promise<T> {
    const deps = getDeps();
    const before = { rules: deps.rules, now: deps.clock.now() };
    deps.rules = staticRules(weekly());
    deps.clock.set(at);
    try {
      return await f();
    } finally {
      deps.rules = before.rules;
      deps.clock.set(before.now);
    }
  }

  it('inside the period built on the old grid: that period is the current one, built already (was a 409)', async () => {
    const res = await withSettings('2026-11-10T15:00:00Z', () => call('POST', '/v1/jobs/lists', keys.admin, {}));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ periodStart: PERIOD, periodEnd: '2026-11-15', built: false });
  });

  it('after it: the next period starts the day after it and ends on the new grid (was a 409 every day)', async () => {
    // The new grid's period holding 2026-11-16 ends 2026-11-17: two days are joined to the next week.
    const res = await withSettings('2026-11-16T15:00:00Z', () => call('POST', '/v1/jobs/lists', keys.admin, {}));
    expect(res.status).toBe(200);
    const built = (await res.json()) as any;
    expect(built).toMatchObject({ periodStart: '2026-11-16', periodEnd: '2026-11-24', built: true });
    expect(built.lists).toBeGreaterThan(0);
    const { rows } = await sql<{ period_start: string; period_end: string }>`
      select period_start::text, period_end::text from list_periods where status = 'done' order by period_start`.execute(getDeps().db);
    expect(rows).toEqual([
      { period_start: PERIOD, period_end: '2026-11-15' },
      { period_start: '2026-11-16', period_end: '2026-11-24' },
    ]);
  }, 120_000);

  it('still refuses an explicit periodStart overlapping a built period with 409, storing nothing', async () => {
    const res = await withSettings('2026-11-16T15:00:00Z', () =>
      call('POST', '/v1/jobs/lists', keys.admin, { periodStart: '2026-11-11', wait: false }),
    );
    expect(res.status).toBe(409);
    expect(((await res.json()) as { detail: string }).detail).toContain(`${PERIOD} – 2026-11-15`);
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from list_periods where period_start = '2026-11-11'`.execute(getDeps().db);
    expect(rows[0]!.n).toBe(0);
  });

  it('an explicit periodStart of a built period keeps its own length, rerun or regenerated (was cut to the new grid)', async () => {
    const at = '2026-11-10T15:00:00Z';
    const again = await withSettings(at, () => call('POST', '/v1/jobs/lists', keys.admin, { periodStart: PERIOD }));
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ periodStart: PERIOD, periodEnd: '2026-11-15', built: false });
    const redo = await withSettings(at, () => call('POST', '/v1/jobs/lists', keys.admin, { periodStart: PERIOD, regenerate: true }));
    expect(redo.status).toBe(200);
    expect(await redo.json()).toMatchObject({ periodStart: PERIOD, periodEnd: '2026-11-15', built: true });
    const { rows } = await sql<{ period_end: string }>`
      select period_end::text from list_periods where status = 'done' and period_start = ${PERIOD}::date`.execute(getDeps().db);
    expect(rows).toEqual([{ period_end: '2026-11-15' }]);
  }, 120_000);

  it('plans each day from the grid and the built periods around it', () => {
    const grid = { periodDays: 7, weekday: 'wednesday' as const };
    const built = (periodStart: string, periodEnd: string) => ({ periodStart, periodEnd });
    // Nothing in the way: the grid's period.
    expect(currentPeriod('2026-11-16', grid, { last: null, next: null })).toEqual({ periodStart: '2026-11-11', periodDays: 7 });
    expect(currentPeriod('2026-11-16', grid, { last: built('2026-11-04', '2026-11-10'), next: null })).toEqual({ periodStart: '2026-11-11', periodDays: 7 });
    // A built period holds today: that one, its own length.
    expect(currentPeriod('2026-11-10', grid, { last: built('2026-11-02', '2026-11-15'), next: null })).toEqual({ periodStart: '2026-11-02', periodDays: 14 });
    // The last built period ends inside the grid's period: from the day after it, to the grid's end...
    expect(currentPeriod('2026-11-13', grid, { last: built('2026-10-30', '2026-11-12'), next: null })).toEqual({ periodStart: '2026-11-13', periodDays: 5 });
    // ...joined to the next grid period when under half a period is left.
    expect(currentPeriod('2026-11-16', grid, { last: built('2026-11-02', '2026-11-15'), next: null })).toEqual({ periodStart: '2026-11-16', periodDays: 9 });
    // Then the new grid holds.
    expect(currentPeriod('2026-11-25', grid, { last: built('2026-11-16', '2026-11-24'), next: null })).toEqual({ periodStart: '2026-11-25', periodDays: 7 });
    // A period built ahead cuts the period short, the day before it.
    expect(currentPeriod('2026-11-16', grid, { last: built('2026-11-02', '2026-11-15'), next: built('2026-11-20', '2026-11-26') })).toEqual({ periodStart: '2026-11-16', periodDays: 4 });
    expect(currentPeriod('2026-11-12', grid, { last: null, next: built('2026-11-15', '2026-11-28') })).toEqual({ periodStart: '2026-11-11', periodDays: 4 });
    // A longer period: 28 days from Monday, after 14-day periods.
    expect(currentPeriod('2026-11-24', { periodDays: 28, weekday: 'monday' }, { last: built('2026-11-09', '2026-11-22'), next: null }))
      .toEqual({ periodStart: '2026-11-23', periodDays: 28 - 14 });
  });
});
