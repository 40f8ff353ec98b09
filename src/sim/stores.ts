import { Rng } from './rng.ts';

export interface SimStore {
  /** Store number, 1..N. */
  id: number;
  name: string;
  timeZone: string;
  /** Checkout lanes, terminal ids `T01`…; busier stores have more and draw more members. */
  terminals: number;
}

const TOWNS = [
  'Riverside',
  'Maple Hill',
  'Oakdale',
  'Brookfield',
  'Cedar Falls',
  'Fairview',
  'Lakewood',
  'Millbrook',
  'Pine Grove',
  'Westbury',
  'Northgate',
  'Elmwood',
  'Harborview',
  'Springdale',
  'Ashford',
  'Kingsbridge',
  'Greenfield',
  'Stonebridge',
  'Willow Creek',
  'Hillcrest',
] as const;

export function terminalId(n: number): string {
  return `T${String(n).padStart(2, '0')}`;
}

export function createStores(seed: number, count: number, timeZone: string): SimStore[] {
  const rng = new Rng(seed, 0x5707e5);
  const stores: SimStore[] = [];
  for (let i = 0; i < count; i++) {
    const town = TOWNS[i % TOWNS.length] as string;
    const round = Math.floor(i / TOWNS.length);
    stores.push({
      id: i + 1,
      name: `Cadence Market ${town}${round > 0 ? ` ${round + 1}` : ''}`,
      timeZone,
      terminals: rng.intBetween(4, 8),
    });
  }
  return stores;
}
