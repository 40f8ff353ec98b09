import { sql } from 'kysely';
import { createApp } from '../app.ts';
import { createApiKey, revokeApiKey } from '../auth/index.ts';
import type { Deps } from '../deps.ts';
import { fixedClock } from '../lib/clock.ts';
import { ConflictError } from '../lib/errors.ts';
import { localToInstant } from '../lib/time.ts';
import { encodeListBarcode } from '../lists/barcodes.ts';
import {
  formatDate,
  generateChain,
  parseDate,
  type MemberSim,
  type SimChain,
  type SimOffer,
  type SimVisit,
} from '../sim/index.ts';
import { planListsRun } from './lists.ts';

/**
 * The closed loop (issue 8): drives a simulated chain forward from the end of its loaded history
 * through the real API, in process (`createApp(deps).request`), with API keys of its own (admin for
 * the jobs, one pos key per store for the lanes) and a simulated clock:
 *
 *   each day   [nightly analyse: POST /v1/jobs/analyse as of the day's midnight]
 *              on a list period's first day (and on the first day run): POST /v1/jobs/lists
 *              without periodStart, so the server builds its current period (jobs/lists.ts
 *              currentPeriod: it follows the built periods when lists.period_days or weekday
 *              change mid-simulation); the loop asks the same plan to know when a period starts
 *              every member's MemberSim shops that day, responding to the offers on the list they
 *              were mailed (their truth decides); each visit to the chain goes to a lane:
 *              identify (scan of the list barcode, or the card) → quote → commit
 *
 * Members continue exactly where the loaded history ended: the chain is regenerated from
 * `sim_runs` (same seed → same members) and each member is replayed, without offers, through the
 * history's last day (that is how the history was generated), then forward.
 *
 * Resuming. The run always starts the day after the loaded history and re-drives the days already
 * simulated (recorded in sim_runs.simulated_through): the members see the same offers (read back
 * from the database), make the same visits with the same transaction ids, and every commit is a
 * replay of the stored one (nothing added; a different request would be a 409 and stops the run);
 * list periods already built are not rebuilt, and analyse is not rerun for those days. New days
 * then follow. So `sim run --weeks 2` then `--weeks 4` ends where one `--weeks 4` would.
 *
 * Bulk reads (the offers and lists mailed for a period) are one set-based query per period; the
 * per-basket work is API calls, which is the point.
 */

export type AnalyseMode = 'nightly' | 'period';

export interface LoopProgress {
  date: string;
  /** Days done in this call, and in all. */
  days: number;
  totalDays: number;
  baskets: number;
  redemptions: number;
}

export interface LoopSummary {
  firstDate: string;
  lastDate: string;
  days: number;
  /** Commits that stored a new basket. */
  baskets: number;
  /** Commits that replayed a stored one (days simulated before). */
  replayed: number;
  /** Offers redeemed by new commits, and their discount. */
  redemptions: number;
  discountCents: number;
  /** Lines on which the member meant to use an offer (their truth), in new commits. */
  intended: number;
  analyses: number;
  periods: Array<{ periodStart: string; built: boolean; lists: number; offers: number }>;
  /** Milliseconds spent in each part. */
  timingsMs: { analyse: number; lists: number; checkout: number; simulate: number };
}

type LoopDeps = Pick<Deps, 'db' | 'ids' | 'logger' | 'config' | 'rules'> & Partial<Pick<Deps, 'copyIn'>>;

interface MailedOffer extends SimOffer {
  validToDay: number;
}

export class ChainLoop {
  private readonly clock = fixedClock('2000-01-01T00:00:00Z');
  private readonly app: ReturnType<typeof createApp>;
  private offers = new Map<number, MailedOffer[]>();
  private listIds = new Map<number, number>();
  private listsPeriod: string | null = null;
  private analysedAt: string | null = null;
  private closed = false;
  /** The next day to simulate (epoch day). */
  private day: number;

  private constructor(
    private readonly deps: LoopDeps,
    readonly chain: SimChain,
    private readonly runId: number,
    private simulatedThrough: string | null,
    private readonly sims: MemberSim[],
    private readonly indexByNumber: Map<string, number>,
    private readonly keys: { admin: { id: number; key: string }; pos: Map<number, { id: number; key: string }> },
    readonly analyse: AnalyseMode,
  ) {
    this.app = createApp({ ...deps, clock: this.clock } as Deps);
    this.day = chain.lastDay + 1;
  }

  /**
   * Regenerates the chain recorded in the latest `sim_runs` row, positions every member at the end
   * of the loaded history and creates the loop's API keys (revoked by `close`).
   */
  static async open(deps: LoopDeps, opts: { analyse?: AnalyseMode } = {}): Promise<ChainLoop> {
    const run = await deps.db.selectFrom('sim_runs').selectAll().orderBy('id', 'desc').limit(1).executeTakeFirst();
    if (!run) throw new ConflictError('no simulated chain here: run `cadence sim generate` first');
    const chain = generateChain({
      seed: run.seed,
      members: run.members,
      stores: run.stores,
      weeks: run.weeks,
      endDate: String(run.end_date).slice(0, 10),
      timeZone: run.time_zone,
    });
    const sims: MemberSim[] = [];
    const indexByNumber = new Map<string, number>();
    for (const m of chain.members()) {
      const sim = chain.simulator(m);
      while (sim.nextVisitInto(chain.lastDay) !== null) {
        // the loaded history, again: only the member's state matters
      }
      sims.push(sim);
      indexByNumber.set(m.memberNumber, m.index);
    }
    const probe = chain.options.members > 0 ? chain.member(0).memberNumber : null;
    if (probe && !(await deps.db.selectFrom('members').select('id').where('member_number', '=', probe).executeTakeFirst())) {
      throw new ConflictError(`the simulated chain of sim_runs #${run.id} is not the one loaded here (no member ${probe})`);
    }
    const admin = await createApiKey(deps, { name: 'sim run: jobs', role: 'admin' });
    const pos = new Map<number, { id: number; key: string }>();
    for (const s of chain.stores) {
      const k = await createApiKey(deps, { name: `sim run: lanes of store ${s.id}`, role: 'pos', storeId: s.id });
      pos.set(s.id, { id: k.id, key: k.key });
    }
    const through = run.simulated_through === null ? null : String(run.simulated_through).slice(0, 10);
    return new ChainLoop(
      deps, chain, Number(run.id), through, sims, indexByNumber,
      { admin: { id: admin.id, key: admin.key }, pos }, opts.analyse ?? 'period',
    );
  }

  /** The next day `advance` simulates, `YYYY-MM-DD`. */
  get nextDate(): string {
    return formatDate(this.day);
  }

  /** The last day simulated so far (in this database), or null. */
  get simulatedThroughDate(): string | null {
    return this.simulatedThrough;
  }

  /**
   * Simulates `days` more days, one after the other. Days simulated before (in this database) are
   * re-driven through the lanes and replay (`replay: 'api'`, the default: proves nothing changes),
   * or only through the members' simulators with the same offers (`'skip'`: a fast-forward).
   */
  async advance(
    days: number,
    onProgress?: (p: LoopProgress) => void,
    opts: { replay?: 'api' | 'skip' } = {},
  ): Promise<LoopSummary> {
    if (this.closed) throw new Error('the loop is closed');
    const s: LoopSummary = {
      firstDate: this.nextDate, lastDate: this.nextDate, days: 0, baskets: 0, replayed: 0, redemptions: 0,
      discountCents: 0, intended: 0, analyses: 0, periods: [],
      timingsMs: { analyse: 0, lists: 0, checkout: 0, simulate: 0 },
    };
    const timed = async <T>(part: keyof LoopSummary['timingsMs'], f: () => Promise<T>): Promise<T> => {
      const t0 = performance.now();
      try {
        return await f();
      } finally {
        s.timingsMs[part] += performance.now() - t0;
      }
    };
    for (let n = 0; n < days; n++) {
      const d = this.day;
      const date = formatDate(d);
      const midnight = localToInstant(date, this.chain.options.timeZone)!;
      // The period the server's list job builds by default today (the one holding today on the
      // grid, or the one after the built periods once lists.period_days or weekday changed).
      const { periodStart } = await planListsRun(this.deps.db, {
        at: new Date(midnight),
        timeZone: this.deps.config.CHAIN_TIME_ZONE,
        rules: this.deps.rules.current(),
      });
      const replaying = this.simulatedThrough !== null && date <= this.simulatedThrough;
      this.clock.set(midnight);
      const needLists = this.listsPeriod !== periodStart;
      if (!replaying && (this.analyse === 'nightly' || needLists) && this.analysedAt !== midnight) {
        await timed('analyse', () => this.call('POST', '/v1/jobs/analyse', this.keys.admin.key, { asOf: midnight }));
        this.analysedAt = midnight;
        s.analyses++;
      }
      if (needLists) {
        // No periodStart: the server builds its current period (the one planned above), so the
        // loop goes on through a settings change instead of asking for a period it refuses (409).
        const r = await timed('lists', () =>
          this.call('POST', '/v1/jobs/lists', this.keys.admin.key, {}),
        ) as { periodStart: string; built: boolean; lists: number; offers: number };
        s.periods.push({ periodStart: r.periodStart, built: r.built, lists: r.lists, offers: r.offers });
        this.listsPeriod = r.periodStart;
        await timed('lists', () => this.loadMailed(r.periodStart, date));
      }
      for (let i = 0; i < this.sims.length; i++) {
        const t0 = performance.now();
        const offers = this.offers.get(i) ?? [];
        const visit = this.sims[i]!.nextVisit(d, offers);
        s.timingsMs.simulate += performance.now() - t0;
        if (visit && replaying && opts.replay === 'skip') s.replayed++;
        else if (visit) await timed('checkout', () => this.checkout(visit, s));
      }
      if (!replaying) {
        await this.deps.db.updateTable('sim_runs').set({ simulated_through: date })
          .where('id', '=', this.runId).execute();
        this.simulatedThrough = date;
      }
      this.day++;
      s.days++;
      s.lastDate = date;
      onProgress?.({ date, days: s.days, totalDays: days, baskets: s.baskets + s.replayed, redemptions: s.redemptions });
    }
    for (const k of Object.keys(s.timingsMs) as Array<keyof LoopSummary['timingsMs']>) {
      s.timingsMs[k] = Math.round(s.timingsMs[k]);
    }
    return s;
  }

  /** Revokes the loop's API keys. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const k of [this.keys.admin, ...this.keys.pos.values()]) {
      await revokeApiKey({ db: this.deps.db, clock: this.clock }, k.id);
    }
  }

  /**
   * What members hold from `date` on: the offers printed on the lists mailed for the periods so far
   * (holdout controls are never printed) still valid, and this period's list to hand the cashier.
   * One query each, for every member.
   */
  private async loadMailed(periodStart: string, date: string): Promise<void> {
    const { rows } = await sql<{
      member_number: string; id: string; kind: string; value: number; max_units: number | null;
      valid_from: string; valid_to: string; gtins: string[];
    }>`
      select m.member_number, o.id::text as id, o.kind, o.value::float8 as value, o.max_units,
        o.valid_from::text as valid_from, o.valid_to::text as valid_to, t.gtins
      from offers o
      join members m on m.id = o.member_id
      join campaign_terms t on t.campaign_id = o.campaign_id and t.rule_hash = o.rule_hash
      where o.period_start <= ${periodStart}::date and o.valid_to >= ${date}::date
        and not o.control and o.status = 'live' and o.kind <> 'reward'
      order by o.member_id, o.id`.execute(this.deps.db);
    const offers = new Map<number, MailedOffer[]>();
    for (const r of rows) {
      const i = this.indexByNumber.get(r.member_number);
      if (i === undefined) continue;
      const offer = this.simOffer(i, r);
      if (!offer) continue;
      let list = offers.get(i);
      if (!list) offers.set(i, (list = []));
      list.push(offer);
    }
    this.offers = offers;
    const lists = await sql<{ member_number: string; id: string }>`
      select m.member_number, l.id::text as id from lists l join members m on m.id = l.member_id
      where l.period_start = ${periodStart}::date and l.voided_at is null`.execute(this.deps.db);
    this.listIds = new Map();
    for (const l of lists.rows) {
      const i = this.indexByNumber.get(l.member_number);
      if (i !== undefined) this.listIds.set(i, Number(l.id));
    }
  }

  /**
   * An offer as the member's simulator sees it: one product (the member's own staple among the
   * offer's products if there is one, else their favourite, else the cheapest) and a discount per
   * unit at its shelf price. Basket-wide rewards have no product: the lane applies them when the
   * basket qualifies, and the simulator does not shop for them.
   */
  private simOffer(
    memberIndex: number,
    r: { id: string; kind: string; value: number; max_units: number | null; valid_from: string; valid_to: string; gtins: string[] },
  ): MailedOffer | null {
    const { products } = this.chain;
    const indexByGtin = this.productIndexByGtin();
    const candidates = r.gtins.map((g) => indexByGtin.get(g)).filter((x): x is number => x !== undefined);
    if (candidates.length === 0) return null;
    const set = new Set(candidates);
    const truth = this.sims[memberIndex]!.member.truth;
    let pick = truth.products.find((p) => set.has(p.productIndex))?.productIndex;
    if (pick === undefined) {
      for (const c of truth.categories) {
        if (set.has(c.favouriteStore)) pick = c.favouriteStore;
        else if (set.has(c.favouriteNational)) pick = c.favouriteNational;
        if (pick !== undefined) break;
      }
    }
    pick ??= candidates.reduce((a, b) => (products[b]!.priceCents < products[a]!.priceCents ? b : a));
    const price = products[pick]!.priceCents;
    let discount: number;
    switch (r.kind) {
      case 'percent_off': discount = Math.round((price * r.value) / 100); break;
      case 'amount_off': discount = Math.min(price, Math.round(r.value)); break;
      case 'price_point': discount = Math.max(0, price - Math.round(r.value)); break;
      case 'buy_x_get_y': discount = Math.round(price / 2); break;
      default: return null;
    }
    if (discount <= 0) return null;
    return {
      id: r.id,
      gtin: products[pick]!.gtin,
      discountCents: discount,
      validFromDate: r.valid_from,
      validToDate: r.valid_to,
      validToDay: parseDate(r.valid_to),
      ...(r.max_units !== null ? { unitLimit: r.max_units } : {}),
    };
  }

  private gtinIndex: Map<string, number> | null = null;
  private productIndexByGtin(): Map<string, number> {
    return (this.gtinIndex ??= new Map(this.chain.products.map((p) => [p.gtin.padStart(14, '0'), p.index])));
  }

  /** One lane's checkout: identify by the scanned list (or card), quote, commit. */
  private async checkout(v: SimVisit, s: LoopSummary): Promise<void> {
    const key = this.keys.pos.get(v.storeId)!.key;
    this.clock.set(v.ts);
    const listId = this.listIds.get(v.memberIndex);
    const identity = { scan: listId !== undefined ? encodeListBarcode(String(listId)) : v.card };
    await this.call('POST', '/v1/checkout/identify', key, { storeId: v.storeId, identity });
    // The POS gives no discounts of its own: every discount is Cadence's.
    const lines = v.lines.map((l) => ({ gtin: l.gtin, qty: l.qty, unitPriceCents: l.unitPriceCents }));
    const sale = { storeId: v.storeId, terminalId: v.terminalId, txnId: v.txn, ts: v.ts, identity, lines };
    await this.call('POST', '/v1/checkout/quote', key, sale);
    const r = (await this.call('POST', '/v1/checkout/commit', key, sale)) as {
      replayed: boolean; applied: Array<{ discountCents: number }>;
    };
    if (r.replayed) {
      s.replayed++;
      return;
    }
    s.baskets++;
    s.redemptions += r.applied.length;
    s.discountCents += r.applied.reduce((a, x) => a + x.discountCents, 0);
    s.intended += v.lines.filter((l) => l.offerId !== null).length;
  }

  private async call(method: string, path: string, key: string, body: unknown): Promise<unknown> {
    const res = await this.app.request(path, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as unknown;
    if (res.status >= 300) {
      throw new Error(`sim run: ${method} ${path} answered ${res.status}: ${JSON.stringify(json)}`);
    }
    return json;
  }
}

/** `cadence sim run`: opens the loop, simulates `days` days, closes it. */
export async function runSimLoop(
  deps: LoopDeps,
  opts: { days: number; analyse?: AnalyseMode; onProgress?: (p: LoopProgress) => void },
): Promise<LoopSummary> {
  const loop = await ChainLoop.open(deps, opts.analyse ? { analyse: opts.analyse } : {});
  try {
    return await loop.advance(opts.days, opts.onProgress);
  } finally {
    await loop.close();
  }
}

export interface LiveChain {
  /** Stops after the day in progress; resolves when stopped. */
  stop(): Promise<void>;
}

/**
 * The demo's living chain: every `everyMs`, one more simulated day through the API (after a
 * fast-forward over the days simulated before). Runs on its own simulated clock, ahead of the
 * wall clock once it passes today. An error stops it (reported to `onError`): a day half done
 * cannot be redone in the same process.
 */
export function startLiveChain(
  deps: LoopDeps,
  opts: { everyMs: number; analyse?: AnalyseMode; onDay?: (s: LoopSummary) => void; onError?: (err: unknown) => void },
): LiveChain {
  let loop: ChainLoop | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const tick = async () => {
    timer = null;
    try {
      if (!loop) {
        loop = await ChainLoop.open(deps, { analyse: opts.analyse ?? 'period' });
        const through = loop.simulatedThroughDate;
        const behind = through === null ? 0 : parseDate(through) - parseDate(loop.nextDate) + 1;
        if (behind > 0) await loop.advance(behind, undefined, { replay: 'skip' });
      }
      if (stopped) return;
      opts.onDay?.(await loop.advance(1));
      if (!stopped) timer = setTimeout(() => void (running = tick()), opts.everyMs);
    } catch (err) {
      stopped = true;
      opts.onError?.(err);
    }
  };
  timer = setTimeout(() => void (running = tick()), opts.everyMs);
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
      await loop?.close();
    },
  };
}
