import type { Deps } from '../deps.ts';
import { localDate } from '../lib/time.ts';
import { generateChain, loadSimChain, type LoadProgress, type LoadSummary } from '../sim/index.ts';

/** The demo chain: 8 stores, 5,000 members, one year of history ending today. */
export const demoChain = { seed: 1, members: 5000, stores: 8, weeks: 52 } as const;

export interface DemoLoadOptions {
  onProgress?: (p: LoadProgress) => void;
  /** Stops the load at its next safe point (see loadSimChain); what was written stays. */
  signal?: AbortSignal | undefined;
  /**
   * A load that was stopped part-way (its end date): completed, whatever the database holds
   * already. The caller keeps this between starts (node.ts: a file in DATA_DIR).
   */
  resume?: { endDate: string } | undefined;
  /** Called before anything is written, with the end date a `resume` must give. */
  onLoading?: (endDate: string) => void;
}

/**
 * Loads the demo chain into an empty database (no stores yet); does nothing on a database that
 * already has data, so a second start reuses it — unless `resume` says the load was stopped
 * part-way: then the same chain is loaded again, which adds only what is missing. A resumed load
 * that had in fact finished (its sim_runs row is there) loads nothing and reports the chain.
 */
export async function ensureDemoChain(
  deps: Pick<Deps, 'db' | 'clock' | 'config'>,
  opts: DemoLoadOptions = {},
): Promise<LoadSummary | null> {
  let endDate: string;
  const timeZone = deps.config.CHAIN_TIME_ZONE;
  if (opts.resume) {
    endDate = opts.resume.endDate;
    const done = await deps.db.selectFrom('sim_runs').select('basket_lines').limit(1).executeTakeFirst();
    if (done) return summaryOf(deps, Number(done.basket_lines));
  } else {
    const existing = await deps.db.selectFrom('stores').select('id').limit(1).execute();
    if (existing.length > 0) return null;
    endDate = localDate(deps.clock.now(), timeZone);
    opts.onLoading?.(endDate);
  }
  const chain = generateChain({ ...demoChain, endDate, timeZone });
  return loadSimChain(deps, chain, { onProgress: opts.onProgress, signal: opts.signal });
}

async function summaryOf(deps: Pick<Deps, 'db'>, basketLines: number): Promise<LoadSummary> {
  const count = async (table: 'stores' | 'products' | 'baskets') =>
    Number((await deps.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  const members = await deps.db.selectFrom('members').select((eb) => eb.fn.countAll().as('n'))
    .where('member_number', 'is not', null).executeTakeFirstOrThrow();
  return {
    stores: await count('stores'),
    products: await count('products'),
    members: Number(members.n),
    baskets: await count('baskets'),
    basketLines,
  };
}
