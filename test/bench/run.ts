/**
 * Benchmark dispatcher: `npm run bench -- NAME [args]` loads `./NAME.ts` and awaits its
 * `run(args)`. Each bench is a module exporting `run(args: string[]): Promise<void>`.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const benches: Record<string, string> = {
  analytics: 'repurchase cycles, calibration and next-basket ranking on PostgreSQL vs one GROUP BY pass; Recall@10 vs P-TopFreq',
  lists: 'shopping-list PDFs (per-list vs a bare pdfkit page; print batch); list period job for 10,000 members on PostgreSQL vs insert…select; list accuracy vs P-TopFreq',
  ingest: 'baskets into PostgreSQL: psql \\copy baseline vs `cadence import baskets` vs POST /v1/baskets',
  rules: '`cadence rules check` on the shipped rules against the demo chain vs `cadence migrate` and the cell report',
  sim: 'the synthetic chain simulator',
  loop: 'closed loop `sim run` (lists, lanes, analyse per period vs nightly): simulated days/s, committed baskets/s vs POST /v1/baskets of the same baskets',
};

function usage(problem?: string): never {
  if (problem) console.error(`bench: ${problem}\n`);
  console.error('usage: npm run bench -- NAME [args]\n\navailable benches:');
  for (const [name, what] of Object.entries(benches)) {
    const present = existsSync(fileURLToPath(new URL(`./${name}.ts`, import.meta.url)));
    console.error(`  ${name.padEnd(8)} ${what}${present ? '' : '  (not present yet)'}`);
  }
  console.error('\ne.g. npm run bench -- ingest --lines 100000');
  process.exit(2);
}

const [name, ...args] = process.argv.slice(2);
if (!name || name === '-h' || name === '--help') usage(name ? undefined : 'which bench?');
if (!Object.hasOwn(benches, name)) usage(`unknown bench "${name}"`);
if (!existsSync(fileURLToPath(new URL(`./${name}.ts`, import.meta.url)))) usage(`test/bench/${name}.ts does not exist`);

const mod = (await import(`./${name}.ts`)) as { run?: (args: string[]) => Promise<void> };
if (typeof mod.run !== 'function') usage(`test/bench/${name}.ts exports no run(args)`);
try {
  await mod.run(args);
  // Keep-alive sockets or pools a bench forgot must not keep the process hanging.
  process.exit(process.exitCode ?? 0);
} catch (err) {
  console.error(err instanceof Error && err.name === 'BenchFailure' ? `bench ${name}: FAILED: ${err.message}` : err);
  process.exit(1);
}
