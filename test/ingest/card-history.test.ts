import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { importBaskets } from '../../src/ingest/import-csv.ts';
import { useTestDeps } from '../support/db.ts';
import { appWithKeys, basket, gtin13, seedCatalogue } from '../support/factories.ts';

const getDeps = useTestDeps();
let api: Awaited<ReturnType<typeof appWithKeys>>;

const CARD = '470000000001'; // A's, then B's
const A_NEXT = '470000000002'; // A's after the move
const B_OLD = '470000000003'; // B's before the move, never A's
const MOVED_AT = '2026-11-24T16:00:00.000Z';

async function history(memberNumber: string) {
  const r = await sql<{ card_number: string; from_at: string; to_at: string | null }>`
    select h.card_number, h.from_at::text as from_at, h.to_at::text as to_at
    from member_cards h join members m on m.id = h.member_id
    where m.member_number = ${memberNumber} order by h.from_at, h.card_number`.execute(getDeps().db);
  return r.rows.map((x) => ({ card: x.card_number, from: instant(x.from_at), to: x.to_at && instant(x.to_at) }));
}
const instant = (text: string) => (text === '-infinity' ? text : new Date(text).toISOString());

async function counts() {
  const r = await sql<{ baskets: number; lines: number }>`
    select (select count(*)::int from baskets) as baskets, (select count(*)::int from basket_lines) as lines`.execute(getDeps().db);
  return r.rows[0]!;
}

const putMembers = (members: unknown[]) => api.call('PUT', '/v1/members', api.keys.admin, { members });

describe('a card re-issued to another member', () => {
  const posted = basket({ cardNumber: CARD, txnId: 'card-history-1', ts: '2026-11-20T10:15:00-05:00' });
  // stamped after the instant the card will move, though posted before it moves
  const later = basket({ cardNumber: CARD, txnId: 'card-history-2', ts: '2026-11-24T17:00:00Z' });
  const csv = [
    'card,txn,ts,store_id,terminal_id,gtin,qty,unit_price_cents,line_discount_cents',
    `${CARD},card-history-csv-1,2026-03-01T10:15:00-05:00,1,T02,${gtin13(1)},1,899,0`,
    `${CARD},card-history-csv-1,2026-03-01T10:15:00-05:00,1,T02,${gtin13(3)},2,399,50`,
    `${CARD},card-history-csv-2,2026-03-08T10:15:00-05:00,1,T02,${gtin13(3)},1,399,0`,
  ].join('\n');
  const importFile = () => importBaskets(getDeps(), [csv], { timeZone: 'America/New_York', onReject: () => {} });
  let basketId: number;
  let laterId: number;

  beforeAll(async () => {
    await seedCatalogue(getDeps());
    api = await appWithKeys(getDeps());
    expect((await putMembers([{ memberNumber: 'CH-A', cardNumber: CARD }, { memberNumber: 'CH-B', cardNumber: B_OLD }])).status).toBe(200);
    const first = await api.call('POST', '/v1/baskets', api.keys.pos1, posted);
    expect(first.status).toBe(201);
    basketId = (await first.json()).basketId;
    laterId = (await (await api.call('POST', '/v1/baskets', api.keys.pos1, later)).json()).basketId;
    expect(await importFile()).toMatchObject({ created: 2, duplicates: 0, conflicts: 0 });
    // A takes a new card and B is given A's, in one batch, at MOVED_AT.
    getDeps().clock.set(MOVED_AT);
    const moved = await putMembers([
      { memberNumber: 'CH-A', cardNumber: A_NEXT },
      { memberNumber: 'CH-B', cardNumber: CARD },
    ]);
    expect(moved.status).toBe(200);
  });

  it('lists every holder of each card with the period it held it', async () => {
    expect(await history('CH-A')).toEqual([
      { card: CARD, from: '-infinity', to: MOVED_AT },
      { card: A_NEXT, from: MOVED_AT, to: null },
    ]);
    expect(await history('CH-B')).toEqual([
      { card: B_OLD, from: '-infinity', to: MOVED_AT },
      { card: CARD, from: MOVED_AT, to: null },
    ]);
  });

  it('answers the exact retry of a basket posted before the move as a duplicate of the original', async () => {
    const before = await counts();
    const retry = await api.call('POST', '/v1/baskets', api.keys.pos1, posted);
    expect(retry.status).toBe(200);
    expect(await retry.json()).toMatchObject({ status: 'duplicate', basketId });
    expect(await counts()).toEqual(before);
    const stored = await sql<{ member_number: string }>`
      select m.member_number from baskets b join members m on m.id = b.member_id where b.id = ${basketId}`.execute(getDeps().db);
    expect(stored.rows[0]!.member_number).toBe('CH-A');
  });

  it('keeps a retry with other content a conflict', async () => {
    const changed = { ...posted, lines: [{ ...posted.lines[0]!, qty: 3 }, posted.lines[1]!] };
    const res = await api.call('POST', '/v1/baskets', api.keys.pos1, changed);
    expect(res.status).toBe(409);
  });

  it('keeps a conflict when the card named never was the stored member’s', async () => {
    const before = await counts();
    const res = await api.call('POST', '/v1/baskets', api.keys.pos1, { ...posted, cardNumber: B_OLD });
    expect(res.status).toBe(409);
    expect(await counts()).toEqual(before);
  });

  it('keeps a conflict when the basket’s instant is after the card moved', async () => {
    const res = await api.call('POST', '/v1/baskets', api.keys.pos1, later);
    expect(res.status).toBe(409);
    expect(laterId).toBeGreaterThan(0);
  });

  it('adds nothing when the same file is imported again after the move', async () => {
    const before = await counts();
    expect(await importFile()).toMatchObject({ created: 0, duplicates: 2, conflicts: 0 });
    expect(await counts()).toEqual(before);
  });
});

describe('card history of every writer', () => {
  it('opens a card first met in a basket at -infinity, and keeps it when the card is registered', async () => {
    const card = '470000000010';
    expect((await api.call('POST', '/v1/baskets', api.keys.pos1, basket({ cardNumber: card }))).status).toBe(201);
    expect((await putMembers([{ memberNumber: 'CH-R', cardNumber: card }])).status).toBe(200);
    expect(await history('CH-R')).toEqual([{ card, from: '-infinity', to: null }]);
  });

  it('dates a given-up card met again in a basket from the end of its last period', async () => {
    getDeps().clock.set('2026-11-24T18:00:00Z');
    expect((await putMembers([{ memberNumber: 'CH-R', cardNumber: '470000000011' }])).status).toBe(200);
    expect((await api.call('POST', '/v1/baskets', api.keys.pos1, basket({ cardNumber: '470000000010' }))).status).toBe(201);
    const r = await sql<{ from_at: string; to_at: string | null; status: string }>`
      select h.from_at::text as from_at, h.to_at::text as to_at, m.status
      from member_cards h join members m on m.id = h.member_id
      where h.card_number = '470000000010' and m.member_number is null`.execute(getDeps().db);
    expect(r.rows.map((x) => [instant(x.from_at), x.to_at, x.status])).toEqual([['2026-11-24T18:00:00.000Z', null, 'unregistered']]);
  });

  it('holds, for every member with a card, exactly that card open, and no other', async () => {
    const r = await sql<{ n: number }>`
      select count(*)::int as n from members m
      full join (select * from member_cards where to_at is null) h on h.member_id = m.id and h.card_number = m.card_number
      where (m.card_number is not null or h.member_id is not null) and (m.id is null or h.member_id is null)`.execute(getDeps().db);
    expect(r.rows[0]!.n).toBe(0);
    const twice = await sql<{ n: number }>`
      select count(*)::int as n from (select card_number from member_cards where to_at is null
      group by card_number having count(*) > 1) x`.execute(getDeps().db);
    expect(twice.rows[0]!.n).toBe(0);
  });
});
