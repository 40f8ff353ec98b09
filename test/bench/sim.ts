import { parseArgs } from 'node:util';
import { generateChain, type SimOptions } from '../../src/sim/index.ts';

/** Required rate of the baskets CSV stream on one core. */
const TARGET_LINES_PER_SECOND = 200_000;

class BenchFailure extends Error {
  override name = 'BenchFailure';
}

/** The demo-size chain unless flags say otherwise. */
function options(args: string[]): SimOptions {
  const { values } = parseArgs({
    args,
    options: {
      seed: { type: 'string', default: '1' },
      members: { type: 'string', default: '5000' },
      stores: { type: 'string', default: '8' },
      weeks: { type: 'string', default: '52' },
      end: { type: 'string', default: '2026-02-28' },
    },
  });
  return {
    seed: Number(values.seed),
    members: Number(values.members),
    stores: Number(values.stores),
    weeks: Number(values.weeks),
    endDate: values.end,
  };
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/**
 * Equally many basket-like CSV lines with no simulation behind them, yielded from a generator like
 * the real stream: the floor that string building and iteration alone cost.
 */
function* baselineLines(count: number): Generator<string> {
  for (let i = 0; i < count; i++) {
    const basket = `6${pad(i % 1e11, 11)},${100_000 + (i >> 3)},2026-02-28T10:15:${pad(i % 60, 2)}`;
    const till = `-05:00,${(i % 8) + 1},T0${(i % 8) + 1}`;
    yield `${basket}${till},0${4e12 + (i % 997)},${(i % 3) + 1},${199 + (i % 500)},0`;
  }
}

interface Run {
  lines: number;
  chars: number;
  seconds: number;
}

/** Consumes lines without keeping them; the character count keeps the work observable. */
function consume(lines: Iterable<string>): Run {
  const start = performance.now();
  let count = 0;
  let chars = 0;
  for (const line of lines) {
    count++;
    chars += line.length;
  }
  return { lines: count, chars, seconds: (performance.now() - start) / 1000 };
}

function describeRun(label: string, r: Run): string {
  const perLine = (r.chars / r.lines).toFixed(1);
  const rate = Math.round(r.lines / r.seconds);
  return `  ${label}: ${r.lines} lines (${perLine} chars) in ${r.seconds.toFixed(2)} s = ${rate} lines/s`;
}

/**
 * Generates the demo chain's baskets CSV in memory (counted, not stored) and reports its rate
 * against a no-simulation baseline of as many lines; fails below 200,000 lines/s.
 *   npm run bench -- sim [--seed 1] [--members 5000] [--stores 8] [--weeks 52] [--end 2026-02-28]
 */
export async function run(args: string[]): Promise<void> {
  const opts = options(args);
  const chain = generateChain(opts);
  const sim = consume(chain.basketsCsv());
  const base = consume(baselineLines(sim.lines));
  const { seed, members, stores, weeks } = opts;
  console.log(
    `sim baskets CSV: seed ${seed}, ${members} members, ${stores} stores, ${weeks} weeks`,
  );
  console.log(describeRun('simulated', sim));
  console.log(describeRun('baseline ', base));
  console.log(`  simulation costs ${(sim.seconds / base.seconds).toFixed(2)}× the baseline time`);
  const rate = sim.lines / sim.seconds;
  if (sim.lines > 0 && rate < TARGET_LINES_PER_SECOND) {
    throw new BenchFailure(`${Math.round(rate)} lines/s is below ${TARGET_LINES_PER_SECOND}`);
  }
}
