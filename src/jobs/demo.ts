import type { Deps } from '../deps.ts';
import { localDate } from '../lib/time.ts';
import { generateChain, loadSimChain, type LoadProgress, type LoadSummary } from '../sim/index.ts';

/** The demo chain: 8 stores, 5,000 members, one year of history ending today. */
export const demoChain = { seed: 1, members: 5000, stores: 8, weeks: 52 } as const;

/**
 * Loads the demo chain into an empty database (no stores yet); does nothing on a database that
 * already has data, so a second start reuses it.
 */
export async function ensureDemoChain(
  deps: Pick<Deps, 'db' | 'clock' | 'config'>,
  onProgress?: (p: LoadProgress) => void,
): Promise<LoadSummary | null> {
  const existing = await deps.db.selectFrom('stores').select('id').limit(1).execute();
  if (existing.length > 0) return null;
  const timeZone = deps.config.CHAIN_TIME_ZONE;
  const chain = generateChain({
    ...demoChain,
    endDate: localDate(deps.clock.now(), timeZone),
    timeZone,
  });
  return loadSimChain(deps, chain, onProgress ? { onProgress } : {});
}
