import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { dbKind, useTestDeps } from '../support/db.ts';
import { appWithKeys, seedCatalogue } from '../support/factories.ts';

const getDeps = useTestDeps();
let api: Awaited<ReturnType<typeof appWithKeys>>;

interface Row { terminal: string; txn: string; offer: number; ts: string; cents: number }

/** Conflicts as offline commits record them (the commit path itself is tested in checkout.test.ts). */
async function conflicts(store: number, rows: Row[]): Promise<void> {
  for (const r of rows) {
    await sql`insert into redemption_conflicts (member_id, store_id, terminal_id, txn_id, offer_id, reason, discount_cents, ts, created_at)
      values (0, ${store}, ${r.terminal}, ${r.txn}, ${r.offer}, 'already_used', ${r.cents}, ${r.ts}::text::timestamptz, now())`.execute(getDeps().db);
  }
}

type Page = { status: string; open: { conflicts: number; discountCents: number }; conflicts: Array<{ terminalId: string; txnId: string; offerId: number; acknowledgedAt: string | null }>; nextCursor: string | null };

async function allPages(query: string, key = api.keys.pos1): Promise<{ pages: Page[]; keys: string[] }> {
  const pages: Page[] = [];
  let after: string | null = null;
  do {
    const res = await api.call('GET', `/v1/stores/1/reconciliation?${query}${after ? `&after=${encodeURIComponent(after)}` : ''}`, key);
    expect(res.status).toBe(200);
    const page = (await res.json()) as Page;
    pages.push(page);
    after = page.nextCursor;
  } while (after && pages.length < 100);
  return { pages, keys: pages.flatMap((p) => p.conflicts.map((c) => `${c.terminalId}/${c.txnId}/${c.offerId}`)) };
}

// Same instants (to the microsecond) on several lanes, lane names that sort differently by
// case, and a non-ASCII txn id: the page order must be total and the same on every database.
const ROWS: Row[] = [];
const lanes = ['b2', 'B1', 'a9', 'Ä1'];
for (let i = 0; i < 23; i++) {
  ROWS.push({
    terminal: lanes[i % lanes.length]!,
    txn: i % 5 === 0 ? `tx-é${i}` : `tx-${i}`,
    offer: 1000 + (i % 3),
    ts: `2026-11-2${1 + (i % 3)}T10:00:00.${String(100000 + (i % 2)).padStart(6, '0')}Z`,
    cents: 100 + i,
  });
}
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
const EXPECTED = [...ROWS]
  .sort((a, b) => a.ts.localeCompare(b.ts) || byteOrder(a.terminal, b.terminal) || byteOrder(a.txn, b.txn) || a.offer - b.offer)
  .map((r) => `${r.terminal}/${r.txn}/${r.offer}`);

beforeAll(async () => {
  await seedCatalogue(getDeps());
  api = await appWithKeys(getDeps());
  await conflicts(1, ROWS);
  await conflicts(2, [{ terminal: 'X', txn: 'other-store', offer: 1, ts: '2026-11-21T10:00:00Z', cents: 5 }]);
});

describe(`store reconciliation on ${dbKind}`, () => {
  it('pages through every open conflict once, in time then lane, txn and offer order, with the open total', async () => {
    const { pages, keys } = await allPages('limit=4');
    expect(keys).toEqual(EXPECTED);
    expect(pages.map((p) => p.conflicts.length)).toEqual([4, 4, 4, 4, 4, 3]);
    expect(pages.at(-1)!.nextCursor).toBeNull();
    for (const p of pages) expect(p.open).toEqual({ conflicts: 23, discountCents: ROWS.reduce((s, r) => s + r.cents, 0) });
    // one page of everything, default limit
    const { pages: one } = await allPages('');
    expect(one).toHaveLength(1);
    expect(one[0]!.conflicts.map((c) => `${c.terminalId}/${c.txnId}/${c.offerId}`)).toEqual(EXPECTED);
  });

  it('acknowledges all or nothing: open pages leave acknowledged ones out, a retry changes nothing', async () => {
    const [a, b] = [ROWS[3]!, ROWS[17]!];
    const body = { conflicts: [a, b].map((r) => ({ terminalId: r.terminal, txnId: r.txn, offerId: r.offer })) };
    // one of them unknown here: 422 naming it, and the other is not marked either
    const bad = await api.call('POST', '/v1/stores/1/reconciliation/acknowledge', api.keys.pos1, {
      conflicts: [body.conflicts[0], { terminalId: 'X', txnId: 'other-store', offerId: 1 }],
    });
    expect(bad.status).toBe(422);
    expect((await bad.json()).issues).toEqual([{ path: 'conflicts[1]', message: expect.stringContaining('no conflict') }]);
    expect((await allPages('limit=50')).keys).toHaveLength(23);

    const first = await api.call('POST', '/v1/stores/1/reconciliation/acknowledge', api.keys.pos1, body);
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ acknowledged: 2, alreadyAcknowledged: 0 });
    const again = await api.call('POST', '/v1/stores/1/reconciliation/acknowledge', api.keys.admin, body);
    expect(await again.json()).toEqual({ acknowledged: 0, alreadyAcknowledged: 2 });

    const open = await allPages('limit=5');
    const done = new Set([a, b].map((r) => `${r.terminal}/${r.txn}/${r.offer}`));
    expect(open.keys).toEqual(EXPECTED.filter((k) => !done.has(k)));
    expect(open.pages[0]!.open).toEqual({ conflicts: 21, discountCents: ROWS.reduce((s, r) => s + r.cents, 0) - a.cents - b.cents });
    const acked = await allPages('status=acknowledged&limit=1');
    expect(acked.keys).toEqual(EXPECTED.filter((k) => done.has(k)));
    for (const p of acked.pages) for (const c of p.conflicts) expect(c.acknowledgedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect((await allPages('status=all&limit=7')).keys).toEqual(EXPECTED);
    // by whom: the first key (the retry kept it)
    const by = await sql<{ name: string }>`select k.name from redemption_conflicts c join api_keys k on k.id = c.acknowledged_by
      where c.store_id = 1 and c.acknowledged_by is not null group by k.name`.execute(getDeps().db);
    expect(by.rows).toHaveLength(1);
    const pos1 = await sql<{ id: string | number }>`select id from api_keys where store_id = 1 and role = 'pos'`.execute(getDeps().db);
    const ids = await sql<{ acknowledged_by: string | number }>`select distinct acknowledged_by from redemption_conflicts where acknowledged_by is not null`.execute(getDeps().db);
    expect(ids.rows.map((r) => Number(r.acknowledged_by))).toEqual(pos1.rows.map((r) => Number(r.id)));
  });

  it('refuses bad paging and bodies with 422 naming the field, and other stores\' keys with 403', async () => {
    for (const [query, path] of [['after=abc', 'after'], ['after=' + btoa('[1,2]'), 'after'], ['limit=0', 'limit'], ['limit=1001', 'limit'], ['status=closed', 'status']]) {
      const res = await api.call('GET', `/v1/stores/1/reconciliation?${query}`, api.keys.pos1);
      expect(res.status, query).toBe(422);
      expect((await res.json()).issues[0].path, query).toBe(path);
    }
    for (const body of [{}, { conflicts: [] }, { conflicts: [{ terminalId: 'T', txnId: 'x' }] }, { conflicts: [{ terminalId: 'T', txnId: 'x', offerId: 1, extra: 1 }] }]) {
      const res = await api.call('POST', '/v1/stores/1/reconciliation/acknowledge', api.keys.pos1, body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect((await res.json()).issues[0].path, JSON.stringify(body)).toMatch(/^conflicts/);
    }
    expect((await api.call('GET', '/v1/stores/1/reconciliation', api.keys.pos2)).status).toBe(403);
    const other = { conflicts: [{ terminalId: 'X', txnId: 'other-store', offerId: 1 }] };
    expect((await api.call('POST', '/v1/stores/2/reconciliation/acknowledge', api.keys.pos1, other)).status).toBe(403);
    expect((await api.call('POST', '/v1/stores/2/reconciliation/acknowledge', api.keys.pos2, other)).status).toBe(200);
    expect((await api.call('POST', '/v1/stores/999/reconciliation/acknowledge', api.keys.admin, other)).status).toBe(404);
  });
});
