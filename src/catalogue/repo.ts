import { sql } from 'kysely';
import { textArray, type Db } from '../db/index.ts';
import type { Category, Manufacturer, Member, Product, Store } from './schemas.ts';

export async function existingIds<T extends string | number>(
  db: Db,
  table: 'stores' | 'categories' | 'manufacturers',
  ids: readonly T[],
): Promise<Set<T>> {
  if (ids.length === 0) return new Set();
  const rows = await db
    .selectFrom(table)
    .select('id')
    .where('id', 'in', [...new Set(ids)] as never[])
    .execute();
  return new Set(rows.map((r) => r.id as T));
}

/**
 * For an upsert's `do update … where`: some column would change. A row sent again as it is stays
 * untouched — no new row version, `updated_at` kept (it says when the row last changed) — so a
 * catalogue or member file sent again each night, or a retried request, writes nothing.
 */
function changed(columns: readonly string[], table: string) {
  const ours = columns.map((c) => sql.ref(`${table}.${c}`));
  const theirs = columns.map((c) => sql.ref(`excluded.${c}`));
  return sql<boolean>`(${sql.join(ours)}) is distinct from (${sql.join(theirs)})`;
}

export async function upsertStores(db: Db, stores: Store[]): Promise<void> {
  await db
    .insertInto('stores')
    .values(stores.map((s) => ({ id: s.id, name: s.name, time_zone: s.timeZone })))
    .onConflict((oc) =>
      oc
        .column('id')
        .doUpdateSet((eb) => ({
          name: eb.ref('excluded.name'),
          time_zone: eb.ref('excluded.time_zone'),
          updated_at: sql`now()`,
        }))
        .where(changed(['name', 'time_zone'], 'stores')),
    )
    .execute();
}

/**
 * A parent left out (undefined) keeps the stored one, null clears it: a product import names
 * categories without their parents, and cut every one it named out of the tree. Those rows go
 * first: they reference no parent, so the others, in one statement, may name them.
 */
export async function upsertCategories(db: Db, rows: Category[]): Promise<void> {
  const nameOnly = rows.filter((r) => r.parentId === undefined);
  if (nameOnly.length > 0) {
    await db
      .insertInto('categories')
      .values(nameOnly.map((r) => ({ id: r.id, name: r.name, parent_id: null })))
      .onConflict((oc) =>
        oc
          .column('id')
          .doUpdateSet((eb) => ({ name: eb.ref('excluded.name'), updated_at: sql`now()` }))
          .where(changed(['name'], 'categories')),
      )
      .execute();
  }
  const withParent = rows.filter((r) => r.parentId !== undefined);
  if (withParent.length === 0) return;
  await db
    .insertInto('categories')
    .values(withParent.map((r) => ({ id: r.id, name: r.name, parent_id: r.parentId ?? null })))
    .onConflict((oc) =>
      oc
        .column('id')
        .doUpdateSet((eb) => ({
          name: eb.ref('excluded.name'),
          parent_id: eb.ref('excluded.parent_id'),
          updated_at: sql`now()`,
        }))
        .where(changed(['name', 'parent_id'], 'categories')),
    )
    .execute();
}

export async function upsertManufacturers(db: Db, rows: Manufacturer[]): Promise<void> {
  await db
    .insertInto('manufacturers')
    .values(rows.map((r) => ({ id: r.id, name: r.name })))
    .onConflict((oc) =>
      oc
        .column('id')
        .doUpdateSet((eb) => ({ name: eb.ref('excluded.name'), updated_at: sql`now()` }))
        .where(changed(['name'], 'manufacturers')),
    )
    .execute();
}

const optionalProductFields = ['categoryId', 'brand', 'brandType', 'manufacturerId', 'size', 'priceCents'] as const;

/**
 * Upserts products; a GTIN first seen in a basket becomes a known product here. A field left out
 * (undefined: not in the request, no column in the file) keeps its stored value, one sent as null
 * clears it: a price file of `gtin,name,price` must not wipe every product's category and brand.
 */
export async function upsertProducts(db: Db, rows: Product[]): Promise<void> {
  const partial = rows.filter((r) => optionalProductFields.some((f) => r[f] === undefined));
  if (partial.length > 0) {
    const stored = await db
      .selectFrom('products')
      .select(['gtin', 'category_id', 'brand', 'brand_type', 'manufacturer_id', 'size', 'price_cents'])
      .where('gtin', 'in', partial.map((r) => r.gtin))
      .forUpdate()
      .execute();
    const byGtin = new Map(stored.map((p) => [p.gtin, p]));
    rows = rows.map((r) => {
      const p = byGtin.get(r.gtin);
      if (!p) return r;
      return {
        ...r,
        categoryId: r.categoryId === undefined ? p.category_id : r.categoryId,
        brand: r.brand === undefined ? p.brand : r.brand,
        brandType: r.brandType === undefined ? p.brand_type : r.brandType,
        manufacturerId: r.manufacturerId === undefined ? p.manufacturer_id : r.manufacturerId,
        size: r.size === undefined ? p.size : r.size,
        priceCents: r.priceCents === undefined ? p.price_cents : r.priceCents,
      };
    });
  }
  await sql`
    insert into products (gtin, name, category_id, brand, brand_type, manufacturer_id, size,
                          price_cents, known)
    select s.gtin, s.name, s.category_id, s.brand, s.brand_type, s.manufacturer_id, s.size,
           s.price_cents::int, true
    from unnest(${textArray(rows.map((r) => r.gtin))}, ${textArray(rows.map((r) => r.name))},
                ${textArray(rows.map((r) => r.categoryId))}, ${textArray(rows.map((r) => r.brand))},
                ${textArray(rows.map((r) => r.brandType))},
                ${textArray(rows.map((r) => r.manufacturerId))},
                ${textArray(rows.map((r) => r.size))}, ${textArray(rows.map((r) => r.priceCents))})
      as s(gtin, name, category_id, brand, brand_type, manufacturer_id, size, price_cents)
    on conflict (gtin) do update set
      name = excluded.name,
      category_id = excluded.category_id,
      brand = excluded.brand,
      brand_type = excluded.brand_type,
      manufacturer_id = excluded.manufacturer_id,
      size = excluded.size,
      price_cents = excluded.price_cents,
      known = true,
      updated_at = now()
    where ${changed(['name', 'category_id', 'brand', 'brand_type', 'manufacturer_id', 'size', 'price_cents', 'known'], 'products')}
  `.execute(db);
}

/**
 * Brings member_cards in line with the cards of the members `ids` (those an upsert wrote: a card
 * moves only between members of the same batch, see upsert.ts), as of
 * `at`: a card a member no longer has is closed at `at`; a card new to its member opens at `at`,
 * except a member's first card that no one held before, which opens at '-infinity' (baskets
 * imported from history are older than the member row; see the migration). A card taken back at
 * the very instant it was given up reopens its row.
 */
async function recordCards(db: Db, ids: number[], at: Date): Promise<void> {
  if (ids.length === 0) return;
  // Every read goes through a key with `= any(…)` (an index scan whatever the statistics): joins
  // and anti-joins let PGlite's planner, which has no statistics, scan all of member_cards once
  // per batch or per member (measured: 50,000 new members 2.5 s against 1.1 s without history).
  const idList = sql`${textArray(ids)}::bigint[]`;
  await sql`
    update member_cards h set to_at = ${at}
    where h.member_id = any(${idList}) and h.to_at is null
      and h.card_number is distinct from (select m.card_number from members m where m.id = h.member_id)
  `.execute(db);
  const { rows: members } = await sql<{ id: string | number; card_number: string }>`
    select id, card_number from members where id = any(${idList}) and card_number is not null`.execute(db);
  if (members.length === 0) return;
  const { rows: byMember } = await sql<{ member_id: string | number; card_number: string; open: boolean }>`
    select member_id, card_number, to_at is null as open from member_cards where member_id = any(${idList})`.execute(db);
  const { rows: byCard } = await sql<{ card_number: string }>`
    select distinct card_number from member_cards
    where card_number = any(${textArray(members.map((m) => m.card_number))}::text[])`.execute(db);
  const holding = new Set(byMember.filter((r) => r.open).map((r) => `${Number(r.member_id)}\u0000${r.card_number}`));
  const withHistory = new Set(byMember.map((r) => Number(r.member_id)));
  const knownCards = new Set(byCard.map((r) => r.card_number));
  const open = members.filter((m) => !holding.has(`${Number(m.id)}\u0000${m.card_number}`));
  if (open.length === 0) return;
  await sql`
    insert into member_cards (member_id, card_number, from_at)
    select s.member_id, s.card_number,
           case when s.first then '-infinity'::timestamptz else ${at}::timestamptz end
    from unnest(${textArray(open.map((m) => m.id))}::bigint[], ${textArray(open.map((m) => m.card_number))}::text[],
                ${textArray(open.map((m) => !knownCards.has(m.card_number) && !withHistory.has(Number(m.id))))}::boolean[])
      as s(member_id, card_number, first)
    on conflict (member_id, card_number, from_at) do update set to_at = null
  `.execute(db);
}

/** Card numbers in `cards` that belong to a member with another member number. */
export async function cardOwners(
  db: Db,
  cards: string[],
): Promise<Map<string, string | null>> {
  if (cards.length === 0) return new Map();
  const rows = await db
    .selectFrom('members')
    .select(['card_number', 'member_number'])
    .where('card_number', 'in', cards)
    .execute();
  return new Map(rows.map((r) => [r.card_number as string, r.member_number]));
}

/** The member numbers in `numbers` that are stored already. */
export async function existingMemberNumbers(db: Db, numbers: string[]): Promise<Set<string>> {
  if (numbers.length === 0) return new Set();
  const rows = await db.selectFrom('members').select('member_number').where('member_number', 'in', numbers).execute();
  return new Set(rows.map((r) => r.member_number as string));
}

/**
 * Upserts members by member number. A card first seen in a basket made an unregistered member;
 * registering that card attaches the member number to it, so its history is kept.
 * Absent (null) fields keep their current value.
 */
export async function upsertMembers(db: Db, rows: Member[], at: Date): Promise<void> {
  const numbers = textArray(rows.map((r) => r.memberNumber));
  const cards = textArray(rows.map((r) => r.cardNumber));
  // Members taking another card give up their old one first: it may go to another member of
  // the batch (the check allowed that), whose row would otherwise meet it still held.
  const { rows: freed } = await sql<{ id: string | number }>`
    update members m set card_number = null, updated_at = now()
    from unnest(${numbers}, ${cards}) as s(member_number, card_number)
    where m.member_number = s.member_number and s.card_number is not null
      and m.card_number is not null and m.card_number <> s.card_number
    returning m.id
  `.execute(db);
  await sql`
    update members m set member_number = s.member_number, status = 'registered', updated_at = now()
    from unnest(${numbers}, ${cards}) as s(member_number, card_number)
    where m.card_number = s.card_number and m.member_number is null
      and not exists (select 1 from members x where x.member_number = s.member_number)
  `.execute(db);
  const { rows: written } = await sql<{ id: string | number }>`
    insert into members (member_number, card_number, status, home_store_id, household_size,
                         has_dog, has_cat, has_baby, enrolled_on)
    select s.member_number, s.card_number, 'registered', s.home_store_id::int,
           s.household_size::smallint, s.has_dog::bool, s.has_cat::bool, s.has_baby::bool,
           s.enrolled_on::date
    from unnest(${numbers}, ${cards}, ${textArray(rows.map((r) => r.homeStoreId))},
                ${textArray(rows.map((r) => r.householdSize))}, ${textArray(rows.map((r) => r.hasDog))},
                ${textArray(rows.map((r) => r.hasCat))}, ${textArray(rows.map((r) => r.hasBaby))},
                ${textArray(rows.map((r) => r.enrolledOn))})
      as s(member_number, card_number, home_store_id, household_size, has_dog, has_cat, has_baby,
           enrolled_on)
    on conflict (member_number) do update set
      card_number = coalesce(excluded.card_number, members.card_number),
      status = 'registered',
      home_store_id = coalesce(excluded.home_store_id, members.home_store_id),
      household_size = coalesce(excluded.household_size, members.household_size),
      has_dog = coalesce(excluded.has_dog, members.has_dog),
      has_cat = coalesce(excluded.has_cat, members.has_cat),
      has_baby = coalesce(excluded.has_baby, members.has_baby),
      enrolled_on = coalesce(excluded.enrolled_on, members.enrolled_on),
      updated_at = now()
    where (members.card_number, members.status, members.home_store_id, members.household_size,
           members.has_dog, members.has_cat, members.has_baby, members.enrolled_on)
      is distinct from
          (coalesce(excluded.card_number, members.card_number), 'registered',
           coalesce(excluded.home_store_id, members.home_store_id),
           coalesce(excluded.household_size, members.household_size),
           coalesce(excluded.has_dog, members.has_dog), coalesce(excluded.has_cat, members.has_cat),
           coalesce(excluded.has_baby, members.has_baby),
           coalesce(excluded.enrolled_on, members.enrolled_on))
    returning members.id
  `.execute(db);
  // Only rows written can have changed cards: a batch sent again unchanged costs nothing more.
  await recordCards(db, [...new Set([...freed, ...written].map((r) => Number(r.id)))], at);
  const withContact = rows.filter((r) => r.contact);
  if (withContact.length === 0) return;
  // A contact field left out (undefined) keeps its stored value, null clears it: an e-mail
  // address sent alone (or a member file with an email column only) wiped names and phones.
  const c = (f: (x: NonNullable<Member['contact']>) => string | null | undefined) =>
    textArray(withContact.map((r) => f(r.contact!)));
  const given = (f: (x: NonNullable<Member['contact']>) => string | null | undefined) =>
    textArray(withContact.map((r) => f(r.contact!) !== undefined));
  const pick = (field: string) =>
    sql`case when ${sql.ref(`s.${field}_given`)}::bool then ${sql.ref(`s.${field}`)} else ${sql.ref(`c.${field}`)} end`;
  await sql`
    insert into member_contacts (member_id, first_name, last_name, email, phone, postal_code)
    select m.id, ${pick('first_name')}, ${pick('last_name')}, ${pick('email')}, ${pick('phone')}, ${pick('postal_code')}
    from unnest(${textArray(withContact.map((r) => r.memberNumber))}, ${c((x) => x.firstName)},
                ${c((x) => x.lastName)}, ${c((x) => x.email)}, ${c((x) => x.phone)},
                ${c((x) => x.postalCode)}, ${given((x) => x.firstName)}, ${given((x) => x.lastName)},
                ${given((x) => x.email)}, ${given((x) => x.phone)}, ${given((x) => x.postalCode)})
      as s(member_number, first_name, last_name, email, phone, postal_code,
           first_name_given, last_name_given, email_given, phone_given, postal_code_given)
    join members m on m.member_number = s.member_number
    left join member_contacts c on c.member_id = m.id
    on conflict (member_id) do update set
      first_name = excluded.first_name, last_name = excluded.last_name, email = excluded.email,
      phone = excluded.phone, postal_code = excluded.postal_code, updated_at = now()
    where ${changed(['first_name', 'last_name', 'email', 'phone', 'postal_code'], 'member_contacts')}
  `.execute(db);
}
