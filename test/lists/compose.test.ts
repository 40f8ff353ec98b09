import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { upsertMembers } from '../../src/catalogue/index.ts';
import { jsonb } from '../../src/db/index.ts';
import type { OfferKind } from '../../src/db/schema.ts';
import { gs1CheckDigit } from '../../src/lists/barcodes.ts';
import { composeList } from '../../src/lists/compose.ts';
import { listDocumentJson } from '../../src/lists/document.ts';
import { pageLines, pageTexts } from './decode.ts';
import { loadListFonts } from '../../src/lists/node.ts';
import { composeOptions } from '../../src/lists/print.ts';
import { defaultSettings } from '../../src/rules/settings.ts';
import { dbKind, useTestDeps } from '../support/db.ts';
import { appWithKeys, gtin13, gtin14, seedCatalogue } from '../support/factories.ts';
import { unstorableReason } from '../../src/lib/text.ts';

// What a stored list prints: the terms the lane will hold the member to.

const getDeps = useTestDeps({ listFonts: loadListFonts() });
let api: Awaited<ReturnType<typeof appWithKeys>>;
const PAIN_STORE = gtin14(gtin13(2));

beforeAll(async () => {
  await seedCatalogue(getDeps());
  api = await appWithKeys(getDeps());
});

let seq = 0;
async function listWith(
  offers: Array<{ kind: OfferKind; value: number; minQty: number; maxUnits: number | null; usesAllowed: number; gtins?: string[] }>,
  dueSoon: string[] = [],
) {
  const db = getDeps().db;
  seq++;
  await upsertMembers(getDeps(), [{ memberNumber: `L${seq}`, cardNumber: `5000000000${seq}`, homeStoreId: 1 }]);
  const m = await db.selectFrom('members').select('id').where('member_number', '=', `L${seq}`).executeTakeFirstOrThrow();
  const list = await sql<{ id: number }>`insert into lists (member_id, period_start, period_end, store_id, content, created_at)
    values (${m.id}, '2026-11-16', '2026-11-29', 1,
      ${jsonb({ dueSoon: dueSoon.map((gtin) => ({ gtin, predictedDate: '2026-11-20', probability: 0.5 })) })},
      now()) returning id`.execute(db);
  const listId = list.rows[0]!.id;
  for (const [i, o] of offers.entries()) {
    const campaign = `compose-${seq}-${i}`;
    await sql`insert into campaign_terms (campaign_id, rule_hash, name, spec, gtins, created_at)
      values (${campaign}, 'h', ${`Offer ${i}`}, '{}', ${o.gtins ?? [PAIN_STORE]}::text[], now())`.execute(db);
    await sql`insert into offers (member_id, list_id, campaign_id, rule_hash, period_start, control, kind, value, min_qty,
        max_units, valid_from, valid_to, probability, expected_cost_cents, expected_value_cents, funded_share, uses_allowed,
        status, created_at, updated_at)
      values (${m.id}, ${listId}, ${campaign}, 'h', '2026-11-16', false, ${o.kind}, ${o.value}, ${o.minQty}, ${o.maxUnits},
        '2026-11-16', '2026-11-29', 0.5, 100, ${100 - i}, 0, ${o.usesAllowed}, 'live', now(), now())`.execute(db);
  }
  return { listId, memberNumber: `L${seq}` };
}

describe(`list composition on ${dbKind}`, () => {
  it('prints the minimum quantity and the number of uses the lane holds the member to', async () => {
    const { listId } = await listWith([
      { kind: 'percent_off', value: 25, minQty: 2, maxUnits: 4, usesAllowed: 1 },
      { kind: 'amount_off', value: 100, minQty: 3, maxUnits: null, usesAllowed: 2 },
      { kind: 'percent_off', value: 10, minQty: 1, maxUnits: 1, usesAllowed: 1 },
      { kind: 'buy_x_get_y', value: 1, minQty: 2, maxUnits: null, usesAllowed: 1 },
    ]);
    const res = await api.call('GET', `/v1/lists/${listId}`, api.keys.marketer);
    expect(res.status).toBe(200);
    const doc = await res.json();
    expect(doc.offers.map((o: { discountText: string; terms: string | null }) => [o.discountText, o.terms])).toEqual([
      ['25% off', 'When you buy 2 or more. Up to 4 units. One use.'],
      ['$1.00 off', 'When you buy 3 or more. 2 uses.'],
      ['10% off', 'Up to 1 unit. One use.'],
      ['Buy 2, get 1 free', 'One use.'],
    ]);
  });
});

describe(`discounts as printed on ${dbKind}`, () => {
  it('prints the percentage the lane applies, with its decimals (12.5% off, not 13%)', async () => {
    const { listId } = await listWith([
      { kind: 'percent_off', value: 12.5, minQty: 1, maxUnits: null, usesAllowed: 1 },
      { kind: 'percent_off', value: 0.75, minQty: 1, maxUnits: null, usesAllowed: 1 },
    ]);
    const res = await api.call('GET', `/v1/lists/${listId}`, api.keys.marketer);
    expect(res.status).toBe(200);
    const doc = await res.json();
    expect(doc.offers.map((o: { discountText: string }) => o.discountText)).toEqual(['12.5% off', '0.75% off']);
    const pdf = await api.call('GET', `/v1/lists/${listId}.pdf`, api.keys.marketer);
    expect(pdf.status).toBe(200);
  });
});

describe(`a long list on ${dbKind}`, () => {
  it('prints every offer the period gave (up to lists.max_offers, 100), and marks a due item with the last one', async () => {
    const MILK = gtin14(gtin13(3));
    const offers = Array.from({ length: 30 }, (_, i) => ({
      kind: 'amount_off' as const, value: 10 + i, minQty: 1, maxUnits: null, usesAllowed: 1,
      ...(i === 29 ? { gtins: [MILK] } : {}),
    }));
    const { listId } = await listWith(offers, [MILK]);
    const res = await api.call('GET', `/v1/lists/${listId}`, api.keys.marketer);
    expect(res.status).toBe(200);
    const doc = await res.json();
    expect(doc.offers).toHaveLength(30);
    expect(doc.dueSoon).toEqual([
      expect.objectContaining({ name: 'Acme Milk 1gal', offerSerial: doc.offers[29].serial, offerMarker: 'Offer 30: $0.39 off' }),
    ]);
    const pdf = await api.call('GET', `/v1/lists/${listId}.pdf`, api.keys.marketer);
    expect(pdf.status).toBe(200);
  });
});

describe(`coupon barcodes on ${dbKind}`, () => {
  it('prints a list under a 12-digit GS1 company prefix, which leaves no digit for a coupon reference', async () => {
    const { listId } = await listWith([{ kind: 'percent_off', value: 25, minQty: 1, maxUnits: 1, usesAllowed: 1 }]);
    const opts = { ...composeOptions(defaultSettings, []), companyPrefix: '061414112345' };
    const doc = listDocumentJson(await composeList(getDeps().db, listId, opts));
    // GCN = the 12-digit prefix + its GS1 check digit, then the offer's serial (AI 255)
    const gcn = `061414112345${gs1CheckDigit('061414112345')}`;
    expect(doc.offers[0]!.barcode.hri).toBe(`(255)${gcn}${doc.offers[0]!.serial}`);
  });
});

describe(`a member's current list on ${dbKind}`, () => {
  it('is found for an unregistered member by the card number the list prints as their member number', async () => {
    const db = getDeps().db;
    const m = await db.insertInto('members').values({ card_number: '500000000999', status: 'unregistered' }).returning('id').executeTakeFirstOrThrow();
    const list = await sql<{ id: number }>`insert into lists (member_id, period_start, period_end, store_id, content, created_at)
      values (${m.id}, '2026-11-16', '2026-11-29', 1, ${jsonb({ dueSoon: [] })}, now()) returning id`.execute(db);
    const res = await api.call('GET', '/v1/members/500000000999/lists/current', api.keys.marketer);
    expect(res.status).toBe(200);
    const doc = await res.json();
    expect(doc).toMatchObject({ listSerial: String(list.rows[0]!.id), memberNumber: '500000000999' });
  });

  it('is the list of the period holding today; a member left out this period has none (was the last, expired list)', async () => {
    const db = getDeps().db;
    const { listId, memberNumber } = await listWith([{ kind: 'percent_off', value: 25, minQty: 1, maxUnits: 1, usesAllowed: 1 }]);
    // the clock says 2026-11-24: the list of 2026-11-16 … 11-29 is current
    const now = await api.call('GET', `/v1/members/${memberNumber}/lists/current`, api.keys.marketer);
    expect((await now.json()).listSerial).toBe(String(listId));
    const card = (await api.call('POST', '/v1/checkout/identify', api.keys.pos1, { storeId: 1, identity: { listId } }));
    expect((await card.json()).listId).toBe(listId);
    // a period that ended on 2026-11-15 is no current list, for the member nor at the lane
    await sql`update lists set period_start = '2026-11-02', period_end = '2026-11-15' where id = ${listId}`.execute(db);
    const stale = await api.call('GET', `/v1/members/${memberNumber}/lists/current.pdf`, api.keys.marketer);
    expect(stale.status).toBe(404);
    expect((await stale.json()).issues).toEqual([{ path: 'memberNumber', message: 'no current list' }]);
    const lane = await api.call('POST', '/v1/checkout/identify', api.keys.pos1, { storeId: 1, identity: { listId } });
    expect((await lane.json()).listId).toBeNull();
  });
});

describe(`a list in Polish, Greek and Cyrillic on ${dbKind}`, () => {
  it("answers the member's current.pdf with the names readable, as the catalogue spells them", async () => {
    const db = getDeps().db;
    const names = ['Żubrówka Bison Grass 0,5 l', 'Ελληνικό γιαούρτι', 'Кефир 2,5%'];
    const gtins = names.map((_, i) => gtin14(gtin13(60 + i)));
    await db.insertInto('products').values(names.map((name, i) => ({ gtin: gtins[i]!, name, size: ['0,5 l', '1 κιλό', '900 мл'][i]!, price_cents: 300 + i }))).execute();
    const { memberNumber } = await listWith([], gtins);
    const res = await api.call('GET', `/v1/members/${memberNumber}/lists/current.pdf`, api.keys.marketer);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/pdf/);
    const text = pageTexts(new Uint8Array(await res.arrayBuffer())).join('\n');
    for (const name of names) expect(text).toContain(name);
    for (const size of ['0,5 l', '1 κιλό', '900 мл']) expect(text).toContain(size);
  });
});

describe(`due items the catalogue describes only in part on ${dbKind}`, () => {
  it("greets the member by the first name on file, in the JSON and on the PDF (lists said 'Hello,' to everyone)", async () => {
    const { listId, memberNumber } = await listWith([]);
    await upsertMembers(getDeps(), [{ memberNumber, cardNumber: `5000000000${seq}`, homeStoreId: 1, contact: { firstName: 'Łukasz' } }]);
    const doc = await (await api.call('GET', `/v1/lists/${listId}`, api.keys.marketer)).json();
    expect(doc.greetingName).toBe('Łukasz');
    const pdf = await api.call('GET', `/v1/lists/${listId}.pdf`, api.keys.marketer);
    const lines = pageLines(new Uint8Array(await pdf.arrayBuffer()), 0).map((l) => l.text.trim());
    expect(lines).toContain('Hello Łukasz,');
    // without one on file: no name
    const other = await listWith([]);
    expect((await (await api.call('GET', `/v1/lists/${other.listId}`, api.keys.marketer)).json()).greetingName).toBeNull();
  });

  it('shortens a long product name without cutting a character in two (an emoji at the limit was split)', async () => {
    const db = getDeps().db;
    const LONG = gtin14(gtin13(43));
    const name = `${'Organic whole milk '.repeat(5).slice(0, 79)}\u{1F95B} extra`; // 🥛 spans units 80–81
    await db.insertInto('products').values([{ gtin: LONG, name, size: '1gal', price_cents: 450 }]).execute();
    const { listId } = await listWith([], [LONG]);
    const res = await api.call('GET', `/v1/lists/${listId}`, api.keys.marketer);
    expect(res.status).toBe(200);
    const shown = (await res.json()).dueSoon[0].name as string;
    expect(shown).toBe(name.slice(0, 79));
    expect(unstorableReason(shown)).toBeNull(); // no lone surrogate
    expect((await api.call('GET', `/v1/lists/${listId}.pdf`, api.keys.marketer)).status).toBe(200);
  });

  it('keeps a due item without a price or a name on the list: its name or "Item <gtin>", and "price at store"', async () => {
    const db = getDeps().db;
    const MILK = gtin14(gtin13(3));
    const NO_PRICE = gtin14(gtin13(40));
    const NO_NAME = gtin14(gtin13(41));
    const UNKNOWN = gtin14(gtin13(42));
    await db.insertInto('products').values([
      { gtin: NO_PRICE, name: 'Cadence Rolled Oats', size: '18oz', price_cents: null },
      { gtin: NO_NAME, name: null, price_cents: 250 },
    ]).execute();
    const { listId } = await listWith([], [MILK, NO_PRICE, NO_NAME, UNKNOWN]);
    const res = await api.call('GET', `/v1/lists/${listId}`, api.keys.marketer);
    expect(res.status).toBe(200);
    const doc = await res.json();
    expect(doc.dueSoon.map((d: { name: string; size: string | null; priceCents: number | null }) => [d.name, d.size, d.priceCents])).toEqual([
      ['Acme Milk 1gal', '1gal', 399],
      ['Cadence Rolled Oats', '18oz', null],
      [`Item ${NO_NAME}`, null, 250],
      [`Item ${UNKNOWN}`, null, null],
    ]);
    const pdf = await api.call('GET', `/v1/lists/${listId}.pdf`, api.keys.marketer);
    expect(pdf.status).toBe(200);
    const lines = pageLines(new Uint8Array(await pdf.arrayBuffer()), 0).map((l) => l.text.trim());
    for (const text of ['Acme Milk 1gal', '$3.99', 'Cadence Rolled Oats', `Item ${NO_NAME}`, '$2.50', `Item ${UNKNOWN}`]) {
      expect(lines).toContain(text);
    }
    expect(lines.filter((l) => l === 'price at store')).toHaveLength(2);
  });
});
