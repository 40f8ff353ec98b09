import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { upsertMembers } from '../../src/catalogue/index.ts';
import type { Db } from '../../src/db/index.ts';
import { dbKind, useTestDeps } from '../support/db.ts';
import { appWithKeys, gtin13, gtin14, seedCatalogue } from '../support/factories.ts';

/**
 * Instants with microseconds reach the database exactly. postgres.js sends a parameter the server
 * types as timestamptz through JavaScript's Date (milliseconds); PGlite keeps the text. So these
 * pass on PGlite whatever the code does, and guard the real PostgreSQL run (.ci/with-postgres).
 */
const getDeps = useTestDeps();
let api: Awaited<ReturnType<typeof appWithKeys>>;

const PAIN_STORE = gtin14(gtin13(2));
const MILK = gtin14(gtin13(3));
const TS = '2026-11-23T09:00:00.123456-05:00';
const TS_UTC = '2026-11-23T14:00:00.123456';

async function member(db: Db, n: number) {
  const number = `U${n}`;
  const card = `8${String(n).padStart(11, '0')}`;
  await upsertMembers(getDeps(), [{ memberNumber: number, cardNumber: card, homeStoreId: 1 }]);
  const m = await db.selectFrom('members').select('id').where('member_number', '=', number).executeTakeFirstOrThrow();
  return { id: m.id, number, card };
}

async function offer(db: Db, memberId: number, campaign: string, updatedAt = '2026-11-01T00:00:00Z') {
  await sql`insert into campaign_terms (campaign_id, rule_hash, name, spec, gtins, created_at)
    values (${campaign}, 'h', ${campaign}, '{}', ${[PAIN_STORE]}::text[], now())`.execute(db);
  const r = await sql<{ id: number }>`
    insert into offers (member_id, campaign_id, rule_hash, period_start, control, kind, value, min_qty, max_units,
      valid_from, valid_to, probability, expected_cost_cents, expected_value_cents, funded_share, uses_allowed, uses,
      status, created_at, updated_at)
    values (${memberId}, ${campaign}, 'h', '2026-11-16', false, 'percent_off', 30, 1, 2, '2026-11-20', '2026-11-29',
      0.5, 100, 100, 0, 1, 0, 'live', now(), ${updatedAt}::text::timestamptz)
    returning id`.execute(db);
  return r.rows[0]!.id;
}

/** The stored instant in UTC to the microsecond, as PostgreSQL prints it. */
async function utcMicros(db: Db, table: string, where: ReturnType<typeof sql>) {
  const { rows } = await sql<{ at: string }>`
    select to_char(ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') as at from ${sql.table(table)} where ${where}`.execute(db);
  return rows.map((r) => r.at);
}

beforeAll(async () => {
  await seedCatalogue(getDeps());
  api = await appWithKeys(getDeps());
});

describe(`instants with microseconds on ${dbKind}`, () => {
  it('an offline commit stores its ts exactly in baskets, offer_redemptions and redemption_conflicts', async () => {
    const db = getDeps().db;
    const m = await member(db, 1);
    const id = await offer(db, m.id, 'micro-a');
    const res = await api.call('POST', '/v1/checkout/commit', api.keys.pos1, {
      storeId: 1, terminalId: 'OFFU', txnId: 'micro-1', ts: TS, identity: { cardNumber: m.card },
      offline: true, offerIds: [id, 999_999_999],
      lines: [{ gtin: PAIN_STORE, qty: 2, unitPriceCents: 549 }, { gtin: MILK, qty: 1, unitPriceCents: 399 }],
    });
    expect(res.status).toBe(201);
    const body = await res.json();
    expect(body.conflicts).toEqual([{ offerId: 999_999_999, reason: 'unknown_offer', discountCents: 0 }]);
    const key = sql`terminal_id = 'OFFU' and txn_id = 'micro-1'`;
    expect(await utcMicros(db, 'baskets', key)).toEqual([TS_UTC]);
    expect(await utcMicros(db, 'offer_redemptions', key)).toEqual([TS_UTC]);
    expect(await utcMicros(db, 'redemption_conflicts', key)).toEqual([TS_UTC]);
    // and the store's reconciliation shows it as sent (an instant of whole milliseconds as before)
    const rec = await (await api.call('GET', '/v1/stores/1/reconciliation', api.keys.pos1)).json();
    expect(rec.conflicts.find((c: { txnId: string }) => c.txnId === 'micro-1').ts).toBe(`${TS_UTC}Z`);
  });

  it('a return and a void store their ts exactly', async () => {
    const db = getDeps().db;
    const sale = {
      storeId: 1, terminalId: 'T01', txnId: 'micro-2', ts: '2026-11-23T08:00:00-05:00', identity: null,
      lines: [{ gtin: MILK, qty: 2, unitPriceCents: 399 }],
    };
    expect((await api.call('POST', '/v1/checkout/commit', api.keys.pos1, sale)).status).toBe(201);
    const ret = await api.call('POST', '/v1/checkout/return', api.keys.pos1, {
      storeId: 1, terminalId: 'T02', txnId: 'micro-r', ts: TS,
      original: { terminalId: 'T01', txnId: 'micro-2' }, lines: [{ gtin: MILK, qty: 1 }],
    });
    expect(ret.status).toBe(200);
    expect(await utcMicros(db, 'baskets', sql`terminal_id = 'T02' and txn_id = 'micro-r'`)).toEqual([TS_UTC]);
    const vo = await api.call('POST', '/v1/checkout/void', api.keys.pos1, {
      storeId: 1, terminalId: 'T01', txnId: 'micro-2', ts: '2026-11-23T09:00:00.654321-05:00',
    });
    expect(vo.status).toBe(200);
    expect(await utcMicros(db, 'baskets', sql`terminal_id = 'T01' and txn_id = 'void:micro-2'`)).toEqual([
      '2026-11-23T14:00:00.654321',
    ]);
  });

  it('the reconciliation writes an instant of whole milliseconds as it did', async () => {
    const m = await member(getDeps().db, 3);
    const res = await api.call('POST', '/v1/checkout/commit', api.keys.pos1, {
      storeId: 1, terminalId: 'OFFV', txnId: 'milli-1', ts: '2026-11-23T09:00:00.5-05:00', identity: { cardNumber: m.card },
      offline: true, offerIds: [999_999_998], lines: [{ gtin: MILK, qty: 1, unitPriceCents: 399 }],
    });
    expect(res.status).toBe(201);
    const rec = await (await api.call('GET', '/v1/stores/1/reconciliation', api.keys.pos1)).json();
    expect(rec.conflicts.find((c: { txnId: string }) => c.txnId === 'milli-1').ts).toBe('2026-11-23T14:00:00.500Z');
  });

  it('the offer file since compares to the microsecond', async () => {
    const db = getDeps().db;
    const m = await member(db, 2);
    const id = await offer(db, m.id, 'micro-b', '2026-11-24T10:00:00.123456Z');
    await sql`update members set updated_at = '2026-11-01T00:00:00Z' where id = ${m.id}`.execute(db);
    const file = async (since: string) => {
      const res = await api.call('GET', `/v1/stores/1/offer-file?since=${encodeURIComponent(since)}`, api.keys.pos1);
      expect(res.status).toBe(200);
      return ((await res.json()).offers as Array<{ offerId: number }>).map((o) => o.offerId).filter((x) => x === id);
    };
    // changed at .123456: after .123455, not after itself (the millisecond .123 would say it was)
    expect(await file('2026-11-24T10:00:00.123455Z')).toEqual([id]);
    expect(await file('2026-11-24T10:00:00.123456Z')).toEqual([]);
  });
});
