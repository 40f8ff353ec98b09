import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { upsertMembers } from '../../src/catalogue/index.ts';
import { importProducts } from '../../src/ingest/import-csv.ts';
import { useTestDeps } from '../support/db.ts';
import { appWithKeys, basket, gtin13, gtin14, seedCatalogue } from '../support/factories.ts';

const getDeps = useTestDeps();
let api: Awaited<ReturnType<typeof appWithKeys>>;

beforeAll(async () => {
  await seedCatalogue(getDeps());
  api = await appWithKeys(getDeps());
});

describe('catalogue upserts', () => {
  it('creates and then updates stores', async () => {
    expect((await api.call('PUT', '/v1/stores', api.keys.admin, { stores: [{ id: 5, name: 'Hill', timeZone: 'America/Chicago' }] })).status).toBe(200);
    const res = await api.call('PUT', '/v1/stores', api.keys.admin, { stores: [{ id: 5, name: 'Hilltop', timeZone: 'America/Chicago' }] });
    expect(await res.json()).toEqual({ upserted: 1 });
    const row = await getDeps().db.selectFrom('stores').selectAll().where('id', '=', 5).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ name: 'Hilltop', time_zone: 'America/Chicago' });
  });

  it('takes children before their parents in one batch, and writes nothing for rows sent again unchanged', async () => {
    const db = getDeps().db;
    const versions = async () =>
      (await sql<{ id: string; v: string; parent_id: string | null }>`
        select id, xmin::text as v, parent_id from categories where id in ('soy-drink', 'plant-drink', 'drinks') order by id`.execute(db)).rows;
    const batch = {
      categories: [
        { id: 'soy-drink', name: 'Soy drink', parentId: 'plant-drink' },
        { id: 'plant-drink', name: 'Plant drinks', parentId: 'drinks' },
        { id: 'drinks', name: 'Drinks' },
      ],
    };
    expect((await api.call('PUT', '/v1/categories', api.keys.admin, batch)).status).toBe(200);
    const first = await versions();
    expect(first.map((r) => [r.id, r.parent_id])).toEqual([['drinks', null], ['plant-drink', 'drinks'], ['soy-drink', 'plant-drink']]);
    expect((await api.call('PUT', '/v1/categories', api.keys.admin, batch)).status).toBe(200);
    expect(await versions()).toEqual(first);
    // A change is written, to that row only.
    const moved = { categories: [{ id: 'soy-drink', name: 'Soy drink', parentId: 'drinks' }] };
    expect((await api.call('PUT', '/v1/categories', api.keys.admin, moved)).status).toBe(200);
    const after = await versions();
    expect(after.find((r) => r.id === 'soy-drink')).toMatchObject({ parent_id: 'drinks' });
    expect(after.find((r) => r.id === 'soy-drink')!.v).not.toBe(first.find((r) => r.id === 'soy-drink')!.v);
    expect(after.filter((r) => r.id !== 'soy-drink')).toEqual(first.filter((r) => r.id !== 'soy-drink'));

    // The same for stores, manufacturers, products and members (with contact data).
    const resend: [string, string, unknown, string][] = [
      ['/v1/stores', 'stores', { stores: [{ id: 7, name: 'Quay', timeZone: 'America/Chicago' }] }, 'id = 7'],
      ['/v1/manufacturers', 'manufacturers', { manufacturers: [{ id: 'oatly-co', name: 'Oat Co' }] }, "id = 'oatly-co'"],
      ['/v1/products', 'products', { products: [{ gtin: gtin13(70), name: 'Soy 1l', categoryId: 'soy-drink', brand: 'Soya', brandType: 'national', priceCents: 249 }] }, `gtin = '${gtin14(gtin13(70))}'`],
      ['/v1/members', 'members', { members: [{ memberNumber: 'M-RESEND', cardNumber: '499000000001', householdSize: 3, contact: { firstName: 'Ada', email: 'ada@example.com' } }] }, "member_number = 'M-RESEND'"],
      ['/v1/members', 'member_contacts', { members: [{ memberNumber: 'M-RESEND', contact: { firstName: 'Ada', email: 'ada@example.com' } }] }, "member_id = (select id from members where member_number = 'M-RESEND')"],
    ];
    for (const [path, table, body, where] of resend) {
      const version = async () =>
        (await sql<{ v: string }>`select xmin::text as v from ${sql.table(table)} where ${sql.raw(where)}`.execute(db)).rows;
      expect((await api.call('PUT', path, api.keys.admin, body)).status, path).toBe(200);
      const once = await version();
      expect(once, table).toHaveLength(1);
      expect((await api.call('PUT', path, api.keys.admin, body)).status, path).toBe(200);
      expect(await version(), `${table} sent again`).toEqual(once);
    }
  });

  it('keeps a category\'s parent when the request leaves it out (a product import with category names cut the tree)', async () => {
    const parentOf = async (id: string) =>
      (await getDeps().db.selectFrom('categories').select('parent_id').where('id', '=', id).executeTakeFirstOrThrow()).parent_id;
    const tree = { categories: [{ id: 'dairy', name: 'Dairy' }, { id: 'yoghurt', name: 'Yoghurt', parentId: 'dairy' }] };
    expect((await api.call('PUT', '/v1/categories', api.keys.admin, tree)).status).toBe(200);
    expect((await api.call('PUT', '/v1/categories', api.keys.admin, { categories: [{ id: 'yoghurt', name: 'Yogurt' }] })).status).toBe(200);
    expect(await parentOf('yoghurt')).toBe('dairy');
    // a product file naming the category renames it, and leaves it where it is
    const csv = ['gtin,name,category_id,category_name', `${gtin13(71)},Greek Yogurt,yoghurt,Yoghurts`].join('\n');
    expect(await importProducts(getDeps(), [csv], { timeZone: 'UTC', onReject: () => {} })).toMatchObject({ imported: 1, rejected: 0 });
    expect(await getDeps().db.selectFrom('categories').select(['name', 'parent_id']).where('id', '=', 'yoghurt').executeTakeFirstOrThrow())
      .toEqual({ name: 'Yoghurts', parent_id: 'dairy' });
    expect((await api.call('PUT', '/v1/categories', api.keys.admin, { categories: [{ id: 'yoghurt', name: 'Yoghurts', parentId: null }] })).status).toBe(200);
    expect(await parentOf('yoghurt')).toBe(null);
  });

  it('rejects a bad time zone naming the field', async () => {
    const res = await api.call('PUT', '/v1/stores', api.keys.admin, { stores: [{ id: 6, name: 'X', timeZone: 'Mars/Olympus' }] });
    expect(res.status).toBe(422);
    expect((await res.json()).issues).toEqual([{ path: 'stores[0].timeZone', message: expect.stringMatching(/time zone/) }]);
  });

  it('stores a product batch all or nothing', async () => {
    const good = { gtin: gtin13(60), name: 'Oat Milk', categoryId: 'milk', brand: 'Oaty', brandType: 'national', priceCents: 349 };
    const badRef = { gtin: gtin13(61), name: 'Ghost', categoryId: 'ghosts' };
    const res = await api.call('PUT', '/v1/products', api.keys.admin, { products: [good, badRef] });
    expect(res.status).toBe(422);
    expect((await res.json()).issues).toEqual([{ path: 'products[1].categoryId', message: 'unknown category ghosts' }]);
    expect(await getDeps().db.selectFrom('products').select('gtin').where('gtin', '=', gtin14(gtin13(60))).execute()).toEqual([]);

    const dup = await api.call('PUT', '/v1/products', api.keys.admin, { products: [good, good] });
    expect(dup.status).toBe(422);
    expect((await dup.json()).issues[0].path).toBe('products[1].gtin');

    const badGtin = await api.call('PUT', '/v1/products', api.keys.admin, { products: [{ ...good, gtin: '4006381333932' }] });
    expect(badGtin.status).toBe(422);
    expect((await badGtin.json()).issues[0]).toEqual({ path: 'products[0].gtin', message: 'bad check digit: expected 1' });

    expect((await api.call('PUT', '/v1/products', api.keys.admin, { products: [good] })).status).toBe(200);
  });

  it('keeps the stored value of a product field the request leaves out, and clears one sent as null', async () => {
    const gtin = gtin13(63);
    const full = { gtin, name: 'Whole Milk 1gal', categoryId: 'milk', brand: 'Acme', brandType: 'national', manufacturerId: 'acme', size: '1gal', priceCents: 429 };
    expect((await api.call('PUT', '/v1/products', api.keys.admin, { products: [full] })).status).toBe(200);
    const stored = () =>
      getDeps().db.selectFrom('products').select(['name', 'category_id', 'brand', 'brand_type', 'manufacturer_id', 'size', 'price_cents'])
        .where('gtin', '=', gtin14(gtin)).executeTakeFirstOrThrow();
    // a price change alone: the product keeps its category, brand and manufacturer (they were wiped)
    expect((await api.call('PUT', '/v1/products', api.keys.admin, { products: [{ gtin, name: 'Whole Milk 1gal', priceCents: 449 }] })).status).toBe(200);
    expect(await stored()).toEqual({ name: 'Whole Milk 1gal', category_id: 'milk', brand: 'Acme', brand_type: 'national', manufacturer_id: 'acme', size: '1gal', price_cents: 449 });
    expect((await api.call('PUT', '/v1/products', api.keys.admin, { products: [{ gtin, name: 'Whole Milk', size: null }] })).status).toBe(200);
    expect(await stored()).toMatchObject({ name: 'Whole Milk', category_id: 'milk', size: null, price_cents: 449 });
  });

  it('turns a placeholder product first seen in a basket into a known one', async () => {
    const gtin = gtin13(62);
    await api.call('POST', '/v1/baskets', api.keys.pos1, {
      storeId: 1, terminalId: 'T1', txnId: 'cat-1', ts: '2026-11-20T10:00:00Z',
      lines: [{ gtin, qty: 1, unitPriceCents: 100 }],
    });
    const before = await getDeps().db.selectFrom('products').select('known').where('gtin', '=', gtin14(gtin)).executeTakeFirstOrThrow();
    expect(before.known).toBe(false);
    await api.call('PUT', '/v1/products', api.keys.admin, { products: [{ gtin, name: 'Now known', categoryId: 'milk' }] });
    const after = await getDeps().db.selectFrom('products').select(['known', 'name']).where('gtin', '=', gtin14(gtin)).executeTakeFirstOrThrow();
    expect(after).toEqual({ known: true, name: 'Now known' });
  });

  it('upserts members with contact data kept apart, and refuses a card owned by another member', async () => {
    const res = await api.call('PUT', '/v1/members', api.keys.admin, {
      members: [{ memberNumber: 'C1', cardNumber: '700000000001', homeStoreId: 1, householdSize: 2, hasDog: true, contact: { firstName: 'Dee', email: 'dee@example.test' } }],
    });
    expect(res.status).toBe(200);
    const member = await getDeps().db.selectFrom('members').selectAll().where('member_number', '=', 'C1').executeTakeFirstOrThrow();
    expect(member).toMatchObject({ card_number: '700000000001', has_dog: true, status: 'registered' });
    expect(Object.keys(member)).not.toContain('email');
    const contact = await getDeps().db.selectFrom('member_contacts').selectAll().where('member_id', '=', member.id).executeTakeFirstOrThrow();
    expect(contact.email).toBe('dee@example.test');

    const clash = await api.call('PUT', '/v1/members', api.keys.admin, { members: [{ memberNumber: 'C2', cardNumber: '700000000001' }] });
    expect(clash.status).toBe(422);
    expect((await clash.json()).issues).toEqual([{ path: 'members[0].cardNumber', message: 'card belongs to member C1' }]);
    expect(await getDeps().db.selectFrom('members').select('id').where('member_number', '=', 'C2').execute()).toEqual([]);
  });

  it('refuses, naming the field, a card first seen in baskets for a member who exists already (was a 500), and stores nothing', async () => {
    // a re-issued card: used at the till before the member file attaches it to the member
    expect((await api.call('PUT', '/v1/members', api.keys.admin, { members: [{ memberNumber: 'RE1', cardNumber: '710000000001' }] })).status).toBe(200);
    expect((await api.call('POST', '/v1/baskets', api.keys.admin, basket({ txnId: 'reissued-1', cardNumber: '710000000002' }))).status).toBe(201);
    const res = await api.call('PUT', '/v1/members', api.keys.admin, {
      members: [{ memberNumber: 'RE2', householdSize: 2 }, { memberNumber: 'RE1', cardNumber: '710000000002' }],
    });
    expect(res.status).toBe(422);
    const body = await res.json();
    expect(body.issues).toEqual([{ path: 'members[1].cardNumber', message: expect.stringMatching(/unregistered member.*RE1/) }]);
    expect(JSON.stringify(body)).not.toContain('710000000002');
    const cards = await getDeps().db.selectFrom('members').select(['member_number', 'card_number', 'status'])
      .where('card_number', 'in', ['710000000001', '710000000002']).orderBy('card_number').execute();
    expect(cards).toEqual([
      { member_number: 'RE1', card_number: '710000000001', status: 'registered' },
      { member_number: null, card_number: '710000000002', status: 'unregistered' },
    ]);
    expect(await getDeps().db.selectFrom('members').select('id').where('member_number', '=', 'RE2').execute()).toEqual([]);
  });

  it('moves a card that its member gives up in the same batch, and swaps two members\' cards (was a 422)', async () => {
    const cardOf = async (n: string) =>
      (await getDeps().db.selectFrom('members').select('card_number').where('member_number', '=', n).executeTakeFirstOrThrow()).card_number;
    const put = (members: object[]) => api.call('PUT', '/v1/members', api.keys.admin, { members });
    expect((await put([{ memberNumber: 'MV1', cardNumber: '720000000001' }, { memberNumber: 'MV2', cardNumber: '720000000002' }])).status).toBe(200);
    // MV1 gets a new card; its old one goes to MV2 (listed first)
    expect((await put([{ memberNumber: 'MV2', cardNumber: '720000000001' }, { memberNumber: 'MV1', cardNumber: '720000000003' }])).status).toBe(200);
    expect([await cardOf('MV1'), await cardOf('MV2')]).toEqual(['720000000003', '720000000001']);
    // a swap
    expect((await put([{ memberNumber: 'MV1', cardNumber: '720000000001' }, { memberNumber: 'MV2', cardNumber: '720000000003' }])).status).toBe(200);
    expect([await cardOf('MV1'), await cardOf('MV2')]).toEqual(['720000000001', '720000000003']);
    // the card still belongs to MV1 when MV1's own row is refused
    const res = await put([{ memberNumber: 'MV2', cardNumber: '720000000001' }, { memberNumber: 'MV1', cardNumber: '720000000009', homeStoreId: 99 }]);
    expect(res.status).toBe(422);
    expect((await res.json()).issues).toEqual([
      { path: 'members[1].homeStoreId', message: 'unknown store 99' },
      { path: 'members[0].cardNumber', message: 'card belongs to member MV1' },
    ]);
    expect([await cardOf('MV1'), await cardOf('MV2')]).toEqual(['720000000001', '720000000003']);
    // an import (bad rows skipped) writes neither, rather than failing on the card still held
    const skipped = await upsertMembers(
      getDeps(),
      [{ memberNumber: 'MV2', cardNumber: '720000000001' }, { memberNumber: 'MV1', cardNumber: '720000000009', homeStoreId: 99 }],
      'skip-bad-rows',
    );
    expect(skipped).toMatchObject({ upserted: 0, rejected: [{ index: 1 }, { index: 0 }] });
    expect([await cardOf('MV1'), await cardOf('MV2')]).toEqual(['720000000001', '720000000003']);
  });

  it('keeps the contact fields a later upsert leaves out, and clears one sent as null', async () => {
    const put = (contact: object) => api.call('PUT', '/v1/members', api.keys.admin, { members: [{ memberNumber: 'CT1', contact }] });
    expect((await put({ firstName: 'Ida', lastName: 'Example', email: 'ida@example.test', phone: '555-0100', postalCode: '12345' })).status).toBe(200);
    const contact = async () => {
      const m = await getDeps().db.selectFrom('members').select('id').where('member_number', '=', 'CT1').executeTakeFirstOrThrow();
      return getDeps().db.selectFrom('member_contacts').select(['first_name', 'last_name', 'email', 'phone', 'postal_code'])
        .where('member_id', '=', m.id).executeTakeFirstOrThrow();
    };
    // a new e-mail address alone (name, phone and postal code were wiped)
    expect((await put({ email: 'ida@new.example.test' })).status).toBe(200);
    expect(await contact()).toEqual({ first_name: 'Ida', last_name: 'Example', email: 'ida@new.example.test', phone: '555-0100', postal_code: '12345' });
    expect((await put({ phone: null })).status).toBe(200);
    expect(await contact()).toEqual({ first_name: 'Ida', last_name: 'Example', email: 'ida@new.example.test', phone: null, postal_code: '12345' });
  });

  it('keeps fields a later upsert leaves out', async () => {
    await api.call('PUT', '/v1/members', api.keys.admin, { members: [{ memberNumber: 'C1', householdSize: 4 }] });
    const member = await getDeps().db.selectFrom('members').selectAll().where('member_number', '=', 'C1').executeTakeFirstOrThrow();
    expect(member).toMatchObject({ card_number: '700000000001', has_dog: true, household_size: 4 });
  });

  it('refuses an enrolment date PostgreSQL cannot hold with 422 naming it (was a 500)', async () => {
    const res = await api.call('PUT', '/v1/members', api.keys.admin, { members: [{ memberNumber: 'Y0', enrolledOn: '0000-01-01' }] });
    expect(res.status).toBe(422);
    expect((await res.json()).issues).toEqual([{ path: 'members[0].enrolledOn', message: 'outside 1900-01-01 … 9999-01-01' }]);
  });
});
