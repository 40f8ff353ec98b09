import { join } from 'node:path';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { sql } from 'kysely';
import { createApp } from '../../src/app.ts';
import { createApiKey } from '../../src/auth/index.ts';
import { Config } from '../../src/config.ts';
import { migrateToLatest, type Database } from '../../src/db/index.ts';
import { openPglite, openPostgres } from '../../src/db/node.ts';
import type { Deps } from '../../src/deps.ts';
import { runSimLoop, type AnalyseMode, type LoopSummary } from '../../src/jobs/sim-run.ts';
import { fixedClock } from '../../src/lib/clock.ts';
import { cryptoIds } from '../../src/lib/ids.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { loadRuleFiles } from '../../src/rules/node.ts';
import { staticRules } from '../../src/rules/rule-set.ts';
import { generateChain, loadSimChain } from '../../src/sim/index.ts';

/**
 * The closed loop (issue 8), `npm run bench -- loop [--members 1000] [--stores 4] [--weeks 26]
 * [--days 14]`: `sim run` over `days` days on a freshly loaded chain, with the analytics once per
 * list period and nightly, each on its own copy of the chain; baseline in the same run: the very
 * baskets the loop committed, posted to a third copy through POST /v1/baskets one basket a request
 * (no identify, no quote, no offers). Prints simulated days/s and committed baskets/s, and their
 * ratios to the baseline. PGlite in memory, or PostgreSQL when DATABASE_URL is set (throwaway
 * databases on that server).
 */

const root = join(import.meta.dirname, '..', '..');
const TZ = 'America/New_York';

async function fresh(): Promise<Database & { dispose(): Promise<void> }> {
  const url = process.env.DATABASE_URL;
  if (!url) {
    const d = await openPglite('memory://');
    await migrateToLatest(d.db);
    return { ...d, dispose: () => d.close() };
  }
  const name = `cadence_bench_loop_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const u = new URL(url);
  u.pathname = `/${name}`;
  const d = await openPostgres(u.toString(), 10);
  await migrateToLatest(d.db);
  return {
    ...d,
    async dispose() {
      await d.close();
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      members: { type: 'string', default: '1000' },
      stores: { type: 'string', default: '4' },
      weeks: { type: 'string', default: '26' },
      days: { type: 'string', default: '14' },
    },
  });
  const chainOpts = {
    seed: 7, members: Number(values.members), stores: Number(values.stores), weeks: Number(values.weeks),
    endDate: '2026-10-31', timeZone: TZ,
  };
  const days = Number(values.days);
  const rules = staticRules(await loadRuleFiles(join(root, 'rules')));
  const config = Config.parse({ LOG_LEVEL: 'silent', CHAIN_TIME_ZONE: TZ });
  const where = process.env.DATABASE_URL ? 'PostgreSQL (DATABASE_URL)' : 'PGlite (in memory)';
  console.log(`loop bench on ${where}: ${chainOpts.members} members, ${chainOpts.stores} stores, ` +
    `${chainOpts.weeks} weeks of history, ${days} simulated days`);

  const depsOf = (d: Database): Deps => ({
    db: d.db, copyIn: d.copyIn, copyTx: d.copyTx, clock: fixedClock('2026-11-01T05:00:00Z'), ids: cryptoIds,
    logger: silentLogger, config, rules,
  });
  const loops: Array<{ mode: AnalyseMode; s: LoopSummary; ms: number }> = [];
  let baskets: Array<{ storeId: number; terminalId: string; txnId: string; ts: string; cardNumber: string; lines: unknown[] }> = [];
  for (const mode of ['period', 'nightly'] as const) {
    const d = await fresh();
    try {
      const deps = depsOf(d);
      await loadSimChain(deps, generateChain(chainOpts));
      const t0 = performance.now();
      const s = await runSimLoop(deps, { days, analyse: mode });
      loops.push({ mode, s, ms: performance.now() - t0 });
      if (mode === 'period') {
        const { rows } = await sql<{ store_id: number; terminal_id: string; txn_id: string; ts: Date; card_number: string; lines: Array<{ gtin: string; qty: number; unitPriceCents: number }> }>`
          select b.store_id, b.terminal_id, b.txn_id, b.ts, m.card_number,
            jsonb_agg(jsonb_build_object('gtin', l.gtin, 'qty', l.qty, 'unitPriceCents', l.unit_price_cents) order by l.line_no) as lines
          from baskets b join members m on m.id = b.member_id
          join basket_lines l on l.member_id = b.member_id and l.basket_id = b.id
          where b.source = 'checkout' group by b.store_id, b.terminal_id, b.txn_id, b.ts, m.card_number
          order by b.ts, b.txn_id`.execute(d.db);
        baskets = rows.map((r) => ({
          storeId: r.store_id, terminalId: r.terminal_id, txnId: r.txn_id, ts: new Date(r.ts).toISOString(),
          cardNumber: r.card_number, lines: r.lines.map((l) => ({ ...l, qty: Number(l.qty) })),
        }));
      }
    } finally {
      await d.dispose();
    }
  }

  // Baseline: the same baskets through POST /v1/baskets, one a request, into the same chain.
  const d = await fresh();
  let baselineMs: number;
  try {
    const deps = depsOf(d);
    await loadSimChain(deps, generateChain(chainOpts));
    const keys = new Map<number, string>();
    for (let s = 1; s <= chainOpts.stores; s++) keys.set(s, (await createApiKey(deps, { name: 'bench', role: 'pos', storeId: s })).key);
    const app = createApp(deps);
    const t0 = performance.now();
    for (const b of baskets) {
      const res = await app.request('/v1/baskets', {
        method: 'POST',
        headers: { authorization: `Bearer ${keys.get(b.storeId)}`, 'content-type': 'application/json' },
        body: JSON.stringify(b),
      });
      if (res.status >= 300) throw new Error(`POST /v1/baskets: ${res.status} ${await res.text()}`);
    }
    baselineMs = performance.now() - t0;
  } finally {
    await d.dispose();
  }

  const n = baskets.length;
  const baseRate = n / (baselineMs / 1000);
  const f = (x: number, digits = 1) => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  console.log(`\nbaseline  POST /v1/baskets, same ${n} baskets one a request: ${f(baseRate)} baskets/s (${f(baselineMs / 1000)} s)`);
  for (const { mode, s, ms } of loops) {
    const total = ms / 1000;
    const perBasket = s.baskets / total;
    const checkoutRate = s.baskets / (s.timingsMs.checkout / 1000);
    console.log(
      `\nsim run --analyse ${mode}: ${s.days} days in ${f(total)} s = ${f(s.days / total, 2)} simulated days/s; ` +
        `${s.baskets} baskets, ${s.redemptions} redemptions, ${s.analyses} analyses, ${s.periods.length} list periods`,
    );
    console.log(`  committed baskets/s, whole loop:          ${f(perBasket)}  = ${f(perBasket / baseRate, 2)}× baseline`);
    console.log(`  committed baskets/s, lanes only (identify + quote + commit): ${f(checkoutRate)}  = ${f(checkoutRate / baseRate, 2)}× baseline`);
    console.log(`  time: analyse ${f(s.timingsMs.analyse / 1000)} s, lists ${f(s.timingsMs.lists / 1000)} s, ` +
      `lanes ${f(s.timingsMs.checkout / 1000)} s, member simulators ${f(s.timingsMs.simulate / 1000)} s`);
  }
}
