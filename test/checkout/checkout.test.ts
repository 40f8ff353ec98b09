import { gunzipSync } from 'node:zlib';
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { upsertMembers } from '../../src/catalogue/index.ts';
import type { Db } from '../../src/db/index.ts';
import type { OfferKind } from '../../src/db/schema.ts';
import { mod3736CheckChar } from '../../src/lists/barcodes.ts';
import { dbKind, useTestDeps } from '../support/db.ts';
import { holdInTransaction } from '../support/locks.ts';
import { appWithKeys, gtin13, gtin14, seedCatalogue } from '../support/factories.ts';

const getDeps = useTestDeps();
let api: Awaited<ReturnType<typeof appWithKeys>>;

const PAIN = gtin14(gtin13(1)); // 899
const PAIN_STORE = gtin14(gtin13(2)); // 549
const MILK = gtin14(gtin13(3)); // 399
const TS = '2026-11-24T10:15:00-05:00';

let memberSeq = 0;
/** A registered member with a live list for the period; returns its internal id and card. */
async function member(db: Db) {
  memberSeq++;
  const number = `C${String(memberSeq).padStart(6, '0')}`;
  const card = `7${String(memberSeq).padStart(11, '0')}`;
  await upsertMembers(getDeps(), [{ memberNumber: number, cardNumber: card, homeStoreId: 1 }]);
  const m = await db.selectFrom('members').select('id').where('member_number', '=', number).executeTakeFirstOrThrow();
  const list = await sql<{ id: number }>`
    insert into lists (member_id, period_start, period_end, store_id, content, created_at)
    values (${m.id}, '2026-11-16', '2026-11-29', 1, '{"dueSoon":[]}', now()) returning id`.execute(db);
  return { id: m.id, number, card, listId: list.rows[0]!.id };
}

let termsSeq = 0;
/** An offer as a list period issues it (terms frozen in campaign_terms). */
async function offer(
  db: Db,
  memberId: number,
  o: { kind?: OfferKind; value?: number; minQty?: number; maxUnits?: number | null; gtins?: string[];
       from?: string; to?: string; usesAllowed?: number; uses?: number; control?: boolean },
) {
  termsSeq++;
  const campaign = `c${termsSeq}`;
  await sql`insert into campaign_terms (campaign_id, rule_hash, name, spec, gtins, created_at)
    values (${campaign}, 'h', ${`Campaign ${termsSeq}`}, '{}', ${o.gtins ?? [PAIN_STORE]}::text[], now())`.execute(db);
  const r = await sql<{ id: number }>`
    insert into offers (member_id, campaign_id, rule_hash, period_start, control, kind, value, min_qty, max_units,
      valid_from, valid_to, probability, expected_cost_cents, expected_value_cents, funded_share, uses_allowed, uses,
      status, created_at, updated_at)
    values (${memberId}, ${campaign}, 'h', '2026-11-16', ${o.control ?? false}, ${o.kind ?? 'percent_off'}, ${o.value ?? 30},
      ${o.minQty ?? 1}, ${o.maxUnits === undefined ? 2 : o.maxUnits}, ${o.from ?? '2026-11-20'}, ${o.to ?? '2026-11-29'},
      0.5, 100, 100, 0, ${o.usesAllowed ?? 1}, ${o.uses ?? 0}, 'live', now(), '2026-11-01T00:00:00Z')
    returning id`.execute(db);
  return r.rows[0]!.id;
}

const sale = (over: Record<string, unknown> = {}) => ({
  storeId: 1,
  terminalId: 'T01',
  txnId: `t-${Math.random().toString(36).slice(2, 10)}`,
  ts: TS,
  lines: [
    { gtin: PAIN_STORE, qty: 2, unitPriceCents: 549 },
    { gtin: MILK, qty: 1, unitPriceCents: 399 },
  ],
  ...over,
});

async function uses(offerId: number) {
  const r = await sql<{ uses: number }>`select uses from offers where id = ${offerId}`.execute(getDeps().db);
  return r.rows[0]!.uses;
}

beforeAll(async () => {
  await seedCatalogue(getDeps());
  api = await appWithKeys(getDeps());
});

describe(`checkout on ${dbKind}`, () => {
  it('identifies a member by card, list serial or offer serial', async () => {
    const m = await member(getDeps().db);
    const id = await offer(getDeps().db, m.id, {});
    await offer(getDeps().db, m.id, { control: true });
    for (const identity of [{ cardNumber: m.card }, { listId: m.listId }, { offerId: id }]) {
      const res = await api.call('POST', '/v1/checkout/identify', api.keys.pos1, { storeId: 1, identity });
      expect(res.status, JSON.stringify(identity)).toBe(200);
      const body = await res.json();
      expect(body).toMatchObject({ memberNumber: m.number, cardNumber: m.card, listId: m.listId });
      expect(body.offers.map((o: { offerId: number }) => o.offerId)).toEqual([id]);
    }
    // The period was regenerated: the printed list the member hands over is voided, and still names them.
    await sql`update lists set voided_at = now() where id = ${m.listId}`.execute(getDeps().db);
    const voided = await api.call('POST', '/v1/checkout/identify', api.keys.pos1, { storeId: 1, identity: { listId: m.listId } });
    expect(voided.status).toBe(200);
    expect(await voided.json()).toMatchObject({ memberNumber: m.number, listId: null, offers: [expect.objectContaining({ offerId: id })] });
    const unknown = await api.call('POST', '/v1/checkout/identify', api.keys.pos1, { storeId: 1, identity: { cardNumber: '999999999999' } });
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).issues[0].path).toBe('identity.cardNumber');
    const two = await api.call('POST', '/v1/checkout/identify', api.keys.pos1, { storeId: 1, identity: { cardNumber: m.card, listId: 1 } });
    expect(two.status).toBe(422);
    expect((await two.json()).issues[0].path).toBe('identity');
  });

  it('quotes the discount per line, summing exactly, and says why each other offer does not apply', async () => {
    const db = getDeps().db;
    const m = await member(db);
    const good = await offer(db, m.id, { value: 33, maxUnits: 3 });
    const wrong = await offer(db, m.id, { gtins: [PAIN] });
    const few = await offer(db, m.id, { minQty: 5 });
    const expired = await offer(db, m.id, { from: '2026-11-01', to: '2026-11-20' });
    const early = await offer(db, m.id, { from: '2026-11-25' });
    const used = await offer(db, m.id, { uses: 1 });
    const lines = [
      { gtin: PAIN_STORE, qty: 1, unitPriceCents: 549 },
      { gtin: MILK, qty: 1, unitPriceCents: 399 },
      { gtin: PAIN_STORE, qty: 1, unitPriceCents: 549 },
    ];
    const res = await api.call('POST', '/v1/checkout/quote', api.keys.pos1, sale({ identity: { cardNumber: m.card }, lines }));
    expect(res.status).toBe(200);
    const q = await res.json();
    // 33% of 1098 = 362.34 → 362, spread 181 / 181
    expect(q.applied).toEqual([expect.objectContaining({ offerId: good, discountCents: 362, allocations: [{ line: 0, cents: 181 }, { line: 2, cents: 181 }] })]);
    expect(q.subtotalCents).toBe(1497);
    expect(q.totalCents).toBe(1497 - 362);
    const reasons = Object.fromEntries(q.notApplied.map((n: { offerId: number; reason: string }) => [n.offerId, n.reason]));
    expect(reasons).toEqual({ [wrong]: 'wrong_product', [few]: 'below_min_qty', [expired]: 'expired', [early]: 'not_yet_valid', [used]: 'already_used' });
    expect(q.reservedUntil).not.toBeNull();

    // another lane quoting the same single-use offer meanwhile sees it reserved
    const other = await api.call('POST', '/v1/checkout/quote', api.keys.pos1, sale({ terminalId: 'T07', identity: { cardNumber: m.card }, lines }));
    const o = await other.json();
    expect(o.applied).toEqual([]);
    expect(o.notApplied).toContainEqual({ offerId: good, campaignId: expect.any(String), reason: 'reserved' });
  });

  it('commits once: redemption, basket with the discount in its lines, replay on retry, 409 on other content', async () => {
    const db = getDeps().db;
    const m = await member(db);
    const id = await offer(db, m.id, { value: 30 });
    const body = sale({ identity: { listId: m.listId } });
    const first = await api.call('POST', '/v1/checkout/commit', api.keys.pos1, body);
    expect(first.status).toBe(201);
    const r = await first.json();
    expect(r.applied).toEqual([expect.objectContaining({ offerId: id, discountCents: 329, allocations: [{ line: 0, cents: 329 }] })]);
    expect(r.replayed).toBe(false);
    const again = await api.call('POST', '/v1/checkout/commit', api.keys.pos1, body);
    expect(again.status).toBe(200);
    expect({ ...(await again.json()), replayed: false }).toEqual(r);
    expect(await uses(id)).toBe(1);
    const lines = await sql<{ gtin: string; line_discount_cents: number }>`
      select gtin, line_discount_cents from basket_lines where basket_id = ${r.basketId} order by line_no`.execute(db);
    expect(lines.rows).toEqual([{ gtin: PAIN_STORE, line_discount_cents: 329 }, { gtin: MILK, line_discount_cents: 0 }]);
    const other = await api.call('POST', '/v1/checkout/commit', api.keys.pos1, { ...body, lines: [{ gtin: MILK, qty: 1, unitPriceCents: 399 }] });
    expect(other.status).toBe(409);
    const next = await (await api.call('POST', '/v1/checkout/commit', api.keys.pos1, sale({ identity: { cardNumber: m.card } }))).json();
    expect(next.applied).toEqual([]);
    expect(next.notApplied).toEqual([{ offerId: id, campaignId: expect.any(String), reason: 'already_used' }]);
  });

  it('a card not seen yet: quote without offers, commit stores the basket under the card (was a 404, the sale lost)', async () => {
    const db = getDeps().db;
    const card = '600000000077';
    const q = await api.call('POST', '/v1/checkout/quote', api.keys.pos1, sale({ identity: { cardNumber: card } }));
    expect(q.status).toBe(200);
    expect(await q.json()).toMatchObject({ memberNumber: null, applied: [], notApplied: [], totalCents: 2 * 549 + 399 });
    const body = sale({ identity: { scan: card } });
    const c = await api.call('POST', '/v1/checkout/commit', api.keys.pos1, body);
    expect(c.status).toBe(201);
    const r = await c.json();
    const owner = await sql<{ card_number: string | null; status: string }>`select m.card_number, m.status
      from baskets b join members m on m.id = b.member_id where b.id = ${r.basketId}`.execute(db);
    expect(owner.rows).toEqual([{ card_number: card, status: 'unregistered' }]);
    expect((await api.call('POST', '/v1/checkout/commit', api.keys.pos1, body)).status).toBe(200);
    // once registered, the card's sale is the member's, and identify knows it
    await upsertMembers(getDeps(), [{ memberNumber: 'NEWCARD1', cardNumber: card, homeStoreId: 1 }]);
    const who = await api.call('POST', '/v1/checkout/identify', api.keys.pos1, { storeId: 1, identity: { cardNumber: card } });
    expect((await who.json()).memberNumber).toBe('NEWCARD1');
    // an unknown list or member number is still a 404 naming the field
    const list = await api.call('POST', '/v1/checkout/commit', api.keys.pos1, sale({ identity: { listId: 987654321 } }));
    expect(list.status).toBe(404);
    expect((await list.json()).issues[0].path).toBe('identity.listId');
  });

  it("a campaign's per-member total holds across its offers of two periods (each had a use left)", async () => {
    const db = getDeps().db;
    const m = await member(db);
    await sql`insert into campaign_terms (campaign_id, rule_hash, name, spec, gtins, created_at)
      values ('once-ever', 'h', 'Once ever', '{"limits":{"usesPerOffer":1,"perMemberTotal":1}}', ${[PAIN_STORE]}::text[], now())`.execute(db);
    const ids: number[] = [];
    for (const [period, from, to] of [['2026-11-02', '2026-11-10', '2026-11-25'], ['2026-11-16', '2026-11-20', '2026-11-29']]) {
      const r = await sql<{ id: number }>`
        insert into offers (member_id, campaign_id, rule_hash, period_start, control, kind, value, min_qty, max_units,
          valid_from, valid_to, probability, expected_cost_cents, expected_value_cents, funded_share, uses_allowed, uses,
          status, created_at, updated_at)
        values (${m.id}, 'once-ever', 'h', ${period}, false, 'percent_off', 30, 1, 1, ${from}, ${to}, 0.5, 100, 100, 0, 1, 0,
          'live', now(), now()) returning id`.execute(db);
      ids.push(r.rows[0]!.id);
    }
    const body = sale({ identity: { cardNumber: m.card } });
    const q = await (await api.call('POST', '/v1/checkout/quote', api.keys.pos1, body)).json();
    expect(q.applied.map((a: { offerId: number }) => a.offerId)).toEqual([ids[0]]);
    expect(q.notApplied).toEqual([{ offerId: ids[1], campaignId: 'once-ever', reason: 'already_used' }]);
    const first = await (await api.call('POST', '/v1/checkout/commit', api.keys.pos1, body)).json();
    expect(first.applied.map((a: { offerId: number }) => a.offerId)).toEqual([ids[0]]);
    const second = await (await api.call('POST', '/v1/checkout/commit', api.keys.pos1, sale({ terminalId: 'T02', identity: { cardNumber: m.card } }))).json();
    expect(second.applied).toEqual([]);
    expect(second.notApplied).toEqual(ids.map((offerId) => ({ offerId, campaignId: 'once-ever', reason: 'already_used' })));
    const used = await sql<{ n: number }>`select sum(uses)::int as n from offers where campaign_id = 'once-ever'`.execute(db);
    expect(used.rows[0]!.n).toBe(1);
    // offline, the second counts as a conflict, not a second use
    const off = await (await api.call('POST', '/v1/checkout/commit', api.keys.pos1, sale({ terminalId: 'OFF9', identity: { cardNumber: m.card }, offline: true, offerIds: [ids[1]] }))).json();
    expect(off.conflicts).toEqual([{ offerId: ids[1], reason: 'already_used', discountCents: 165 }]);
    expect(await uses(ids[1]!)).toBe(0);
  });

  it('64 lanes committing the same single-use offer at once: exactly one redemption', async () => {
    const db = getDeps().db;
    const m = await member(db);
    const id = await offer(db, m.id, {});
    const results = await Promise.all(
      Array.from({ length: 64 }, (_, lane) =>
        api.call('POST', '/v1/checkout/commit', api.keys.pos1, sale({ terminalId: `L${lane}`, identity: { cardNumber: m.card } })),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(results.map(() => 201));
    const bodies = await Promise.all(results.map((r) => r.json()));
    expect(bodies.filter((b) => b.applied.length === 1)).toHaveLength(1);
    const red = await sql<{ n: number }>`select count(*)::int as n from offer_redemptions where offer_id = ${id}`.execute(db);
    expect(red.rows[0]!.n).toBe(1);
    expect(await uses(id)).toBe(1);
    const baskets = await sql<{ n: number }>`select count(*)::int as n from baskets where member_id = ${m.id}`.execute(db);
    expect(baskets.rows[0]!.n).toBe(64);
  });

  it('1,000 commits retried 3 times each: 1,000 baskets and one redemption per offer', async () => {
    const db = getDeps().db;
    const members: Array<Awaited<ReturnType<typeof member>> & { offer: number }> = [];
    for (let i = 0; i < 50; i++) {
      const m = await member(db);
      members.push({ ...m, offer: await offer(db, m.id, { usesAllowed: 2 }) });
    }
    const bodies = Array.from({ length: 1000 }, (_, i) => {
      const m = members[i % members.length]!;
      return sale({ terminalId: `R${i % 7}`, txnId: `retry-${i}`, identity: { cardNumber: m.card } });
    });
    for (let i = 0; i < bodies.length; i += 100) {
      const chunk = bodies.slice(i, i + 100).flatMap((b) => [b, b, b]);
      const res = await Promise.all(chunk.map((b) => api.call('POST', '/v1/checkout/commit', api.keys.pos1, b)));
      expect(res.every((r) => r.status === 201 || r.status === 200)).toBe(true);
    }
    const { rows } = await sql<{ baskets: number; redemptions: number; uses: number }>`
      select (select count(*)::int from baskets where txn_id like 'retry-%') as baskets,
        (select count(*)::int from offer_redemptions where txn_id like 'retry-%') as redemptions,
        (select sum(uses)::int from offers where id = any(${members.map((m) => m.offer)}::bigint[])) as uses`.execute(db);
    expect(rows[0]).toEqual({ baskets: 1000, redemptions: 100, uses: 100 });
  }, 240_000);

  it('void restores the offer and reverses the basket; a second void is a replay', async () => {
    const db = getDeps().db;
    const m = await member(db);
    const id = await offer(db, m.id, {});
    const body = sale({ identity: { cardNumber: m.card } });
    await api.call('POST', '/v1/checkout/commit', api.keys.pos1, body);
    expect(await uses(id)).toBe(1);
    const v = await api.call('POST', '/v1/checkout/void', api.keys.pos1, { storeId: 1, terminalId: 'T01', txnId: body.txnId, ts: TS });
    expect(v.status).toBe(200);
    const r = await v.json();
    expect(r.reversed).toEqual([{ offerId: id, cents: 329, useRestored: true }]);
    expect(r.refundCents).toBe(2 * 549 + 399 - 329);
    expect(await uses(id)).toBe(0);
    const net = await sql<{ qty: number; paid: number }>`
      select sum(l.qty)::float8 as qty, sum(l.qty * l.unit_price_cents - l.line_discount_cents)::float8 as paid
      from basket_lines l where l.member_id = ${m.id}`.execute(db);
    expect(net.rows[0]).toEqual({ qty: 0, paid: 0 });
    const again = await (await api.call('POST', '/v1/checkout/void', api.keys.pos1, { storeId: 1, terminalId: 'T01', txnId: body.txnId, ts: TS })).json();
    expect(again).toEqual({ ...r, replayed: true });
    expect(await uses(id)).toBe(0);
    const missing = await api.call('POST', '/v1/checkout/void', api.keys.pos1, { storeId: 1, terminalId: 'T01', txnId: 'nope', ts: TS });
    expect(missing.status).toBe(404);
  });

  it('partial returns reverse the discount pro rata, exactly in total, and restore the use once none of it is kept', async () => {
    const db = getDeps().db;
    const m = await member(db);
    const id = await offer(db, m.id, { value: 25, minQty: 2, maxUnits: 3 });
    const body = sale({ identity: { cardNumber: m.card }, lines: [{ gtin: PAIN_STORE, qty: 3, unitPriceCents: 549 }] });
    const c = await (await api.call('POST', '/v1/checkout/commit', api.keys.pos1, body)).json();
    expect(c.discountCents).toBe(412); // 25% of 1647 = 411.75
    const ret = (txnId: string, qty: number) => api.call('POST', '/v1/checkout/return', api.keys.pos1, {
      storeId: 1, terminalId: 'T09', txnId, ts: TS, original: { terminalId: 'T01', txnId: body.txnId }, lines: [{ gtin: PAIN_STORE, qty }],
    });
    const one = await (await ret('r1', 1)).json();
    expect(one.reversed).toEqual([{ offerId: id, cents: 137, useRestored: false }]); // round(412/3)
    expect(one.refundCents).toBe(549 - 137);
    expect(await uses(id)).toBe(1);
    // 1 unit kept, below the minimum of 2, with 137 cents of the discount on it: the use stays
    // spent (it was given back here, so the offer could be had again while its discount was kept)
    const two = await (await ret('r2', 1)).json();
    expect(two.reversed).toEqual([{ offerId: id, cents: 138, useRestored: false }]); // round(824/3) − 137
    expect(await uses(id)).toBe(1);
    const three = await (await ret('r3', 1)).json();
    expect(three.reversed).toEqual([{ offerId: id, cents: 137, useRestored: true }]);
    expect(await uses(id)).toBe(0);
    expect(137 + 138 + 137).toBe(412);
    const tooMany = await ret('r4', 1);
    expect(tooMany.status).toBe(422);
    expect((await tooMany.json()).issues[0].path).toMatch(/lines|qty/);
  });

  it('a weighed line returned in parts refunds exactly what was paid for it (was a cent more)', async () => {
    const body = sale({ lines: [{ gtin: MILK, qty: 1.5, unitPriceCents: 199 }, { gtin: PAIN, qty: 0.75, unitPriceCents: 335, lineDiscountCents: 5 }] });
    const c = await (await api.call('POST', '/v1/checkout/commit', api.keys.pos1, body)).json();
    expect(c.totalCents).toBe(299 + 251 - 5); // 298.5 → 299, 251.25 → 251
    const refunds: number[] = [];
    for (const [i, lines] of [[{ gtin: MILK, qty: 0.5 }, { gtin: PAIN, qty: 0.25 }], [{ gtin: MILK, qty: 0.5 }, { gtin: PAIN, qty: 0.25 }], [{ gtin: MILK, qty: 0.5 }]].entries()) {
      const r = await api.call('POST', '/v1/checkout/return', api.keys.pos1, {
        storeId: 1, terminalId: 'T09', txnId: `${body.txnId}-w${i}`, ts: TS, original: { terminalId: 'T01', txnId: body.txnId }, lines,
      });
      expect(r.status).toBe(200);
      refunds.push((await r.json()).refundCents);
    }
    const v = await api.call('POST', '/v1/checkout/void', api.keys.pos1, { storeId: 1, terminalId: 'T01', txnId: body.txnId, ts: TS });
    refunds.push((await v.json()).refundCents);
    // each part: the rounded amount (and discount) of all returned so far minus the earlier parts'
    expect(refunds).toEqual([100 + 84 - 2, 99 + 84 - 1, 100, 83 - 2]);
    expect(refunds.reduce((s, x) => s + x, 0)).toBe(c.totalCents);
  });

  it('quotes, commits and refunds a weighed line at what the stored basket counts (1.005 × 100 is 101 cents, was 100)', async () => {
    const lines = [{ gtin: MILK, qty: 1.005, unitPriceCents: 100 }];
    const q = await (await api.call('POST', '/v1/checkout/quote', api.keys.pos1, sale({ lines }))).json();
    expect(q.subtotalCents).toBe(101);
    // a POS discount of the whole line is the line, not more than it
    const full = sale({ lines: [{ ...lines[0], lineDiscountCents: 101 }] });
    expect((await api.call('POST', '/v1/checkout/quote', api.keys.pos1, full)).status).toBe(200);
    const body = sale({ lines });
    const c = await (await api.call('POST', '/v1/checkout/commit', api.keys.pos1, body)).json();
    expect(c.totalCents).toBe(101);
    const stored = await sql<{ total_cents: string | number }>`select total_cents from baskets where id = ${c.basketId}`.execute(getDeps().db);
    expect(Number(stored.rows[0]!.total_cents)).toBe(101);
    const v = await (await api.call('POST', '/v1/checkout/void', api.keys.pos1, { storeId: 1, terminalId: 'T01', txnId: body.txnId, ts: TS })).json();
    expect(v.refundCents).toBe(101);
  });

  it('books a return under the member of the sale, also for a member without a card', async () => {
    const db = getDeps().db;
    await upsertMembers(getDeps(), [{ memberNumber: 'NOCARD1', cardNumber: null, homeStoreId: 1 }]);
    const m = await db.selectFrom('members').select('id').where('member_number', '=', 'NOCARD1').executeTakeFirstOrThrow();
    const body = sale({ identity: { memberNumber: 'NOCARD1' } });
    expect((await api.call('POST', '/v1/checkout/commit', api.keys.pos1, body)).status).toBe(201);
    const ret = await api.call('POST', '/v1/checkout/return', api.keys.pos1, {
      storeId: 1, terminalId: 'T09', txnId: 'r-nocard', ts: TS, original: { terminalId: 'T01', txnId: body.txnId },
      lines: [{ gtin: MILK, qty: 1 }],
    });
    expect(ret.status).toBe(200);
    const owners = await sql<{ member_id: number }>`select member_id from baskets
      where store_id = 1 and txn_id in (${body.txnId}, 'r-nocard') order by txn_id`.execute(db);
    expect(owners.rows.map((r) => r.member_id)).toEqual([m.id, m.id]);
  });

  it('takes returns of one sale from two terminals that use the same txn id (was a 500 on the second)', async () => {
    const body = sale();
    expect((await api.call('POST', '/v1/checkout/commit', api.keys.pos1, body)).status).toBe(201);
    const ret = (terminalId: string) => api.call('POST', '/v1/checkout/return', api.keys.pos1, {
      storeId: 1, terminalId, txnId: 'R0001', ts: TS, original: { terminalId: 'T01', txnId: body.txnId },
      lines: [{ gtin: PAIN_STORE, qty: 1 }],
    });
    expect((await ret('T07')).status).toBe(200);
    const second = await ret('T08');
    expect(second.status).toBe(200);
    expect((await second.json()).refundCents).toBe(549);
    const third = await ret('T09');
    expect(third.status).toBe(422);
    expect((await third.json()).issues[0].path).toBe('lines[0].qty');
  });

  it('eight lanes returning the last unit of one sale at once: one refund, the others 422 (each refunded it)', async () => {
    const db = getDeps().db;
    const m = await member(db);
    const id = await offer(db, m.id, { value: 50, maxUnits: 1 });
    const body = sale({ identity: { cardNumber: m.card }, lines: [{ gtin: PAIN_STORE, qty: 1, unitPriceCents: 549 }] });
    expect((await api.call('POST', '/v1/checkout/commit', api.keys.pos1, body)).status).toBe(201);
    const res = await Promise.all(Array.from({ length: 8 }, (_, lane) => api.call('POST', '/v1/checkout/return', api.keys.pos1, {
      storeId: 1, terminalId: `CS${lane}`, txnId: 'R-same', ts: TS, original: { terminalId: 'T01', txnId: body.txnId },
      lines: [{ gtin: PAIN_STORE, qty: 1 }],
    })));
    expect(res.map((r) => r.status).sort()).toEqual([200, 422, 422, 422, 422, 422, 422, 422]);
    const ok = await res.find((r) => r.status === 200)!.json();
    expect(ok.refundCents).toBe(549 - 275);
    const back = await sql<{ qty: number }>`select sum(qty)::float8 as qty from returned_units
      where store_id = 1 and terminal_id = 'T01' and txn_id = ${body.txnId}`.execute(db);
    expect(back.rows[0]!.qty).toBe(1);
    expect(await uses(id)).toBe(0);
  });

  it('refuses a list barcode whose serial Cadence cannot have issued with 422 naming the scan (was a 500)', async () => {
    for (const serial of ['99999999999999999999', 'ABCDEF', '9007199254740993']) {
      const scan = `L${serial}${mod3736CheckChar(serial)}`;
      const res = await api.call('POST', '/v1/checkout/identify', api.keys.pos1, { storeId: 1, identity: { scan } });
      expect(res.status, scan).toBe(422);
      expect((await res.json()).issues).toEqual([{ path: 'identity.scan', message: expect.stringContaining(`list serial ${serial} is not one Cadence issues`) }]);
      expect((await api.call('POST', '/v1/checkout/quote', api.keys.pos1, sale({ identity: { scan } }))).status).toBe(422);
    }
  });

  it('refuses quantities with more than 3 decimals, as baskets do (0.0001 was stored as a line of 0 units)', async () => {
    const db = getDeps().db;
    const count = async () => (await sql<{ n: number }>`select count(*)::int as n from basket_lines`.execute(db)).rows[0]!.n;
    const before = await count();
    const res = await api.call('POST', '/v1/checkout/commit', api.keys.pos1, sale({ lines: [{ gtin: MILK, qty: 0.0001, unitPriceCents: 399 }] }));
    expect(res.status).toBe(422);
    expect((await res.json()).issues).toEqual([{ path: 'lines[0].qty', message: 'at most 3 decimals' }]);
    expect(await count()).toBe(before);
    const ret = await api.call('POST', '/v1/checkout/return', api.keys.pos1, {
      storeId: 1, terminalId: 'T01', txnId: 'r-decimals', ts: TS, original: { terminalId: 'T01', txnId: 'none' }, lines: [{ gtin: MILK, qty: 1.2345 }],
    });
    expect(ret.status).toBe(422);
    expect((await ret.json()).issues[0].path).toBe('lines[0].qty');
  });

  it('refuses lines adding up past what a discount can be stored as, 422 naming lines (was a 500 at commit)', async () => {
    const db = getDeps().db;
    const m = await member(db);
    await offer(db, m.id, { value: 30, maxUnits: null });
    const huge = [{ gtin: PAIN_STORE, qty: 100_000, unitPriceCents: 100_000_000 }];
    for (const path of ['/v1/checkout/quote', '/v1/checkout/commit']) {
      const res = await api.call('POST', path, api.keys.pos1, sale({ identity: { cardNumber: m.card }, lines: huge }));
      expect(res.status, path).toBe(422);
      expect((await res.json()).issues).toEqual([{ path: 'lines', message: 'the lines add up to more than 2147483647 cents' }]);
    }
    // up to the limit, the offer is taken off and stored
    const most = [{ gtin: PAIN_STORE, qty: 21, unitPriceCents: 100_000_000 }, { gtin: MILK, qty: 1, unitPriceCents: 47_483_647 }];
    const ok = await api.call('POST', '/v1/checkout/commit', api.keys.pos1, sale({ identity: { cardNumber: m.card }, lines: most }));
    expect(ok.status).toBe(201);
    expect((await ok.json()).discountCents).toBe(630_000_000);
  });

  it('serves the offer file with ETag, 304, gzip and since', async () => {
    const db = getDeps().db;
    const m = await member(db);
    const id = await offer(db, m.id, { to: '2026-12-31' });
    const path = '/v1/stores/1/offer-file';
    const first = await api.call('GET', path, api.keys.pos1);
    expect(first.status).toBe(200);
    const tag = first.headers.get('etag');
    expect(tag).toBeTruthy();
    const file = await first.json();
    expect(file.offers.find((o: { offerId: number }) => o.offerId === id)).toMatchObject({ cardNumber: m.card, usesLeft: 1, status: 'live' });
    expect(file.offers.every((o: { validTo: string }) => o.validTo >= '2026-11-24')).toBe(true);
    const same = await api.call('GET', path, api.keys.pos1, undefined, { 'if-none-match': tag! });
    expect(same.status).toBe(304);
    const zipped = await api.app.request(path, { headers: { authorization: `Bearer ${api.keys.pos1}`, 'accept-encoding': 'gzip' } });
    expect(zipped.headers.get('content-encoding')).toBe('gzip');
    expect(JSON.parse(gunzipSync(Buffer.from(await zipped.arrayBuffer())).toString())).toEqual(file);

    await api.call('POST', '/v1/checkout/commit', api.keys.pos1, sale({ identity: { cardNumber: m.card } }));
    const changed = await (await api.call('GET', `${path}?since=2026-11-02T00:00:00Z`, api.keys.pos1)).json();
    expect(changed.offers.find((o: { offerId: number }) => o.offerId === id)).toMatchObject({ status: 'used', usesLeft: 0 });
    expect((await api.call('GET', path, api.keys.pos1, undefined, { 'if-none-match': tag! })).status).toBe(200);
    expect((await api.call('GET', '/v1/stores/2/offer-file', api.keys.pos1)).status).toBe(403);
  });

  it('offer file since: a card re-issued or a member moved to this store brings their offers (no offer changed)', async () => {
    const db = getDeps().db;
    const a = await member(db);
    const mine = await offer(db, a.id, { to: '2026-12-31' });
    await upsertMembers(getDeps(), [{ memberNumber: 'MOVER1', cardNumber: '800000000001', homeStoreId: 2 }]);
    const mover = await db.selectFrom('members').select('id').where('member_number', '=', 'MOVER1').executeTakeFirstOrThrow();
    const moved = await offer(db, mover.id, { to: '2026-12-31' });
    await sql`update members set updated_at = '2026-11-01T00:00:00Z' where id in (${a.id}, ${mover.id})`.execute(db);
    const path = '/v1/stores/1/offer-file?since=2026-11-02T00:00:00Z';
    const before = await (await api.call('GET', path, api.keys.pos1)).json();
    expect(before.offers.map((o: { offerId: number }) => o.offerId)).not.toContain(mine);
    // a's card is lost: a gets a new one, the old number goes to a new member; the mover moves to store 1
    await upsertMembers(getDeps(), [{ memberNumber: a.number, cardNumber: `9${a.card}`, homeStoreId: 1 }]);
    await upsertMembers(getDeps(), [{ memberNumber: 'REISSUE1', cardNumber: a.card, homeStoreId: 1 }]);
    await upsertMembers(getDeps(), [{ memberNumber: 'MOVER1', cardNumber: '800000000001', homeStoreId: 1 }]);
    const after = await (await api.call('GET', path, api.keys.pos1)).json();
    expect(after.offers.find((o: { offerId: number }) => o.offerId === mine)).toMatchObject({ cardNumber: `9${a.card}`, status: 'live' });
    expect(after.offers.find((o: { offerId: number }) => o.offerId === moved)).toMatchObject({ cardNumber: '800000000001', status: 'live' });
    expect(after.offers.filter((o: { cardNumber: string }) => o.cardNumber === a.card)).toEqual([]);
  });

  it('offer file cursor: every file and 304 gives one; the next file from it holds exactly what changed since', async () => {
    const db = getDeps().db;
    const a = await member(db);
    const kept = await offer(db, a.id, { to: '2026-12-31' });
    const b = await member(db);
    const usedUp = await offer(db, b.id, { to: '2026-12-31' });
    const path = '/v1/stores/1/offer-file';
    const first = await api.call('GET', path, api.keys.pos1);
    const cursor = first.headers.get('cadence-cursor')!;
    expect(cursor).toMatch(/^\d+$/);
    const same = await api.call('GET', path, api.keys.pos1, undefined, { 'if-none-match': first.headers.get('etag')! });
    expect(same.status).toBe(304);
    expect(BigInt(same.headers.get('cadence-cursor')!)).toBeGreaterThanOrEqual(BigInt(cursor));

    // b redeems the offer; a's card is re-issued (no offer of a's changes)
    expect((await api.call('POST', '/v1/checkout/commit', api.keys.pos1, sale({ identity: { cardNumber: b.card } }))).status).toBe(201);
    await upsertMembers(getDeps(), [{ memberNumber: a.number, cardNumber: `9${a.card}`, homeStoreId: 1 }]);
    // On a server shared with other databases, the cursor (the oldest transaction running anywhere)
    // may be older than the file, and a few offers written meanwhile come again: never any older.
    const resendable = async (from: string) =>
      dbKind === 'pglite'
        ? new Set<number>()
        : new Set((await sql<{ id: number }>`select id from offers where changed_xid >= ${from}::xid8`.execute(db)).rows.map((r) => Number(r.id)));
    const next = await api.call('GET', `${path}?cursor=${cursor}`, api.keys.pos1);
    const changed = (await next.json()).offers;
    const again = await resendable(cursor);
    const others = changed.map((o: { offerId: number }) => o.offerId).filter((id: number) => id !== kept && id !== usedUp);
    expect(others.filter((id: number) => !again.has(id))).toEqual([]); // nothing written before the cursor
    if (dbKind === 'pglite') expect(others).toEqual([]); // one session: the cursor is the file's own
    expect(changed.find((o: { offerId: number }) => o.offerId === usedUp)).toMatchObject({ status: 'used', usesLeft: 0 });
    expect(changed.find((o: { offerId: number }) => o.offerId === kept)).toMatchObject({ cardNumber: `9${a.card}`, status: 'live' });
    const nextCursor = next.headers.get('cadence-cursor')!;
    const after = (await (await api.call('GET', `${path}?cursor=${nextCursor}`, api.keys.pos1)).json()).offers;
    const againAfter = await resendable(nextCursor);
    expect(after.filter((o: { offerId: number }) => !againAfter.has(o.offerId))).toEqual([]);

    for (const [query, message] of [
      ['cursor=abc', 'expected the cursor of an earlier offer file'],
      ['cursor=99999999999999999999', 'expected the cursor of an earlier offer file'],
      [`cursor=${cursor}&since=2026-11-02T00:00:00Z`, 'give cursor or since, not both'],
    ] as const) {
      const bad = await api.call('GET', `${path}?${query}`, api.keys.pos1);
      expect(bad.status, query).toBe(422);
      expect((await bad.json()).issues[0], query).toEqual({ path: 'cursor', message });
    }
  });

  it.skipIf(dbKind !== 'postgres')('offer file cursor: an offer committed after the file was read, by a writer that started before, is in the next file', async () => {
    const db = getDeps().db;
    const a = await member(db);
    // A long list job: its offer is written (and stamped) early, committed only later.
    let late = 0;
    const writer = await holdInTransaction(db, async (tx) => {
      late = await offer(tx, a.id, { to: '2026-12-31' });
      await sql`update offers set updated_at = now() where id = ${late}`.execute(tx);
    });
    // Meanwhile other writes commit (a sale at a lane, a member signing up), so the file is read
    // past the writer's own transaction.
    await member(db);
    const path = '/v1/stores/1/offer-file';
    const read = await api.call('GET', path, api.keys.pos1);
    expect((await read.json()).offers.map((o: { offerId: number }) => o.offerId)).not.toContain(late);
    const cursor = read.headers.get('cadence-cursor')!;
    writer.release();
    await writer.done;
    const next = (await (await api.call('GET', `${path}?cursor=${cursor}`, api.keys.pos1)).json()).offers;
    expect(next.find((o: { offerId: number }) => o.offerId === late)).toMatchObject({ status: 'live', cardNumber: a.card });
  });

  it('gives a reward\'s minimum spend in the offer file and at identify, so an offline lane can check it', async () => {
    const db = getDeps().db;
    const m = await member(db);
    const id = await offer(db, m.id, { kind: 'reward', value: 3000, to: '2026-12-31' });
    await sql`update offers set min_spend_cents = 5000 where id = ${id}`.execute(db);
    const file = await (await api.call('GET', '/v1/stores/1/offer-file', api.keys.pos1)).json();
    expect(file.offers.find((o: { offerId: number }) => o.offerId === id)).toMatchObject({ kind: 'reward', value: 3000, minSpendCents: 5000 });
    const who = await (await api.call('POST', '/v1/checkout/identify', api.keys.pos1, { storeId: 1, identity: { cardNumber: m.card } })).json();
    expect(who.offers).toEqual([expect.objectContaining({ offerId: id, minSpendCents: 5000 })]);
    // what the file says is what the server holds to: below the minimum the reward does not apply
    const body = sale({ identity: { cardNumber: m.card } });
    const q = await (await api.call('POST', '/v1/checkout/quote', api.keys.pos1, body)).json();
    expect(q.notApplied).toEqual([{ offerId: id, campaignId: expect.any(String), reason: 'below_min_spend' }]);
  });

  it('offline: an offer used on two lanes counts once and the other is in the reconciliation list', async () => {
    const db = getDeps().db;
    const m = await member(db);
    const id = await offer(db, m.id, {});
    const a = sale({ terminalId: 'OFF1', identity: { cardNumber: m.card }, offline: true, offerIds: [id], ts: '2026-11-23T09:00:00-05:00' });
    const b = sale({ terminalId: 'OFF2', identity: { cardNumber: m.card }, offline: true, offerIds: [id], ts: '2026-11-23T09:05:00-05:00' });
    const ra = await (await api.call('POST', '/v1/checkout/commit', api.keys.pos1, a)).json();
    const rb = await (await api.call('POST', '/v1/checkout/commit', api.keys.pos1, b)).json();
    expect(ra.conflicts).toEqual([]);
    expect(rb.conflicts).toEqual([{ offerId: id, reason: 'already_used', discountCents: 329 }]);
    expect(rb.discountCents).toBe(329); // the customer got it; it is reported, not counted
    expect(await uses(id)).toBe(1);
    const rec = await (await api.call('GET', '/v1/stores/1/reconciliation', api.keys.pos1)).json();
    expect(rec.conflicts).toContainEqual(expect.objectContaining({ terminalId: 'OFF2', offerId: id, reason: 'already_used', memberNumber: m.number }));
    const stored = await sql<{ ts: Date }>`select ts from offer_redemptions where offer_id = ${id}`.execute(db);
    expect(new Date(stored.rows[0]!.ts).toISOString()).toBe('2026-11-23T14:00:00.000Z');
    const online = sale({ offerIds: [id] });
    expect((await api.call('POST', '/v1/checkout/commit', api.keys.pos1, online)).status).toBe(422);
  });

  it('offline: an offer the lane applied that does not apply to the basket is in the reconciliation list', async () => {
    const db = getDeps().db;
    const m = await member(db);
    const id = await offer(db, m.id, { minQty: 3 }); // the sale has 2 units of its product
    const res = await api.call('POST', '/v1/checkout/commit', api.keys.pos1,
      sale({ terminalId: 'OFF3', identity: { cardNumber: m.card }, offline: true, offerIds: [id] }));
    expect(res.status).toBe(201);
    const body = await res.json();
    expect(body.notApplied).toEqual([expect.objectContaining({ offerId: id, reason: 'below_min_qty' })]);
    expect(body.conflicts).toEqual([{ offerId: id, reason: 'below_min_qty', discountCents: 0 }]);
    expect(await uses(id)).toBe(0);
    const rec = await (await api.call('GET', '/v1/stores/1/reconciliation', api.keys.pos1)).json();
    expect(rec.conflicts).toContainEqual(expect.objectContaining({ terminalId: 'OFF3', offerId: id, reason: 'below_min_qty', memberNumber: m.number, discountCents: 0 }));
  });

  it('offline: the conflict holds what the lane says it gave (offlineDiscounts), else what Cadence computes', async () => {
    const db = getDeps().db;
    const m = await member(db);
    const below = await offer(db, m.id, { minQty: 3 }); // does not apply: 2 units on the sale
    const used = await offer(db, m.id, { gtins: [MILK], uses: 1 }); // applies (30% of 399 = 120), used up
    const other = await offer(db, (await member(db)).id, { gtins: [MILK] }); // another member's
    const plain = await offer(db, m.id, { gtins: [MILK], value: 10 }); // applies and counts
    const body = sale({
      terminalId: 'OFF4', identity: { cardNumber: m.card }, offline: true,
      offerIds: [below, used, other, 999_999_997, plain],
      offlineDiscounts: [
        { offerId: below, discountCents: 330 },
        { offerId: used, discountCents: 100 },
        { offerId: other, discountCents: 0 },
        { offerId: 999_999_997, discountCents: 75 },
      ],
    });
    const res = await api.call('POST', '/v1/checkout/commit', api.keys.pos1, body);
    expect(res.status).toBe(201);
    const r = await res.json();
    expect(r.conflicts).toEqual([
      { offerId: below, reason: 'below_min_qty', discountCents: 330 },
      { offerId: used, reason: 'already_used', discountCents: 100 },
      { offerId: other, reason: 'other_member', discountCents: 0 },
      { offerId: 999_999_997, reason: 'unknown_offer', discountCents: 75 },
    ]);
    expect(r.applied.map((a: { offerId: number }) => a.offerId)).toEqual([used, other, plain]);
    expect(await uses(plain)).toBe(1);
    const rec = await (await api.call('GET', '/v1/stores/1/reconciliation?limit=1000', api.keys.pos1)).json();
    const mine = rec.conflicts.filter((c: { terminalId: string; txnId: string }) => c.terminalId === 'OFF4' && c.txnId === body.txnId);
    expect(mine.map((c: { offerId: number; discountCents: number }) => [c.offerId, c.discountCents])).toEqual(
      expect.arrayContaining([[below, 330], [used, 100], [other, 0], [999_999_997, 75]]),
    );
    // a retry with the same body replays; the same key with other amounts is another request
    const again = await api.call('POST', '/v1/checkout/commit', api.keys.pos1, body);
    expect(again.status).toBe(200);
    const changed = { ...body, offlineDiscounts: [{ offerId: below, discountCents: 1 }] };
    expect((await api.call('POST', '/v1/checkout/commit', api.keys.pos1, changed)).status).toBe(409);
  });

  it('offline: refuses offlineDiscounts that do not fit the sale with 422 naming the field', async () => {
    const m = await member(getDeps().db);
    const base = { terminalId: 'OFF5', identity: { cardNumber: m.card }, offline: true, offerIds: [11, 12] };
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ offlineDiscounts: [{ offerId: 11, discountCents: 10 }, { offerId: 11, discountCents: 20 }] }, 'offlineDiscounts[1].offerId'],
      [{ offlineDiscounts: [{ offerId: 13, discountCents: 10 }] }, 'offlineDiscounts[0].offerId'],
      [{ offerIds: undefined, offlineDiscounts: [{ offerId: 11, discountCents: 10 }] }, 'offlineDiscounts[0].offerId'],
      [{ offlineDiscounts: [{ offerId: 11, discountCents: -1 }] }, 'offlineDiscounts[0].discountCents'],
      [{ offlineDiscounts: [{ offerId: 11, discountCents: 1.5 }] }, 'offlineDiscounts[0].discountCents'],
      // the sale's total is 2 × 549 + 399 − 100 (the lane's own line discount) = 1397
      [{ offlineDiscounts: [{ offerId: 12, discountCents: 1398 }] }, 'offlineDiscounts[0].discountCents'],
      [{ offlineDiscounts: [{ offerId: 12, discountCents: 5, extra: 1 }] }, 'offlineDiscounts[0]'],
      [{ offline: false, offerIds: undefined, offlineDiscounts: [{ offerId: 12, discountCents: 5 }] }, 'offlineDiscounts'],
    ];
    const lines = [
      { gtin: PAIN_STORE, qty: 2, unitPriceCents: 549, lineDiscountCents: 100 },
      { gtin: MILK, qty: 1, unitPriceCents: 399 },
    ];
    for (const [over, path] of cases) {
      const res = await api.call('POST', '/v1/checkout/commit', api.keys.pos1, sale({ ...base, lines, ...over }));
      expect(res.status, JSON.stringify(over)).toBe(422);
      expect((await res.json()).issues.map((i: { path: string }) => i.path), JSON.stringify(over)).toContain(path);
    }
    // the whole total is fine
    const ok = await api.call('POST', '/v1/checkout/commit', api.keys.pos1,
      sale({ ...base, lines, offlineDiscounts: [{ offerId: 12, discountCents: 1397 }] }));
    expect(ok.status).toBe(201);
    expect((await ok.json()).conflicts).toEqual([
      { offerId: 11, reason: 'unknown_offer', discountCents: 0 },
      { offerId: 12, reason: 'unknown_offer', discountCents: 1397 },
    ]);
  });

  it('keeps pos keys to their own store', async () => {
    const res = await api.call('POST', '/v1/checkout/commit', api.keys.pos2, sale());
    expect(res.status).toBe(403);
    const q = await api.call('POST', '/v1/checkout/quote', api.keys.marketer, sale());
    expect(q.status).toBe(403);
  });

  it('answers 422 naming the field for a store number beyond integer in the path, or a since out of range (was a 500)', async () => {
    for (const path of ['/v1/stores/2147483648/offer-file', '/v1/stores/99999999999999999999/reconciliation']) {
      const res = await api.call('GET', path, api.keys.admin);
      expect(res.status, path).toBe(422);
      expect((await res.json()).issues[0].path).toBe('id');
    }
    for (const since of ['0000-01-01T00:00:00Z', '9999-12-31T23:59:59-14:00']) {
      const res = await api.call('GET', `/v1/stores/1/offer-file?since=${encodeURIComponent(since)}`, api.keys.admin);
      expect(res.status, since).toBe(422);
      expect((await res.json()).issues[0]).toEqual({ path: 'since', message: 'outside 1900-01-01 … 9999-01-01' });
    }
  });
});
