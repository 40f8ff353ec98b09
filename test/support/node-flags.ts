import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
/** package.json's scripts. */
export const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;

/**
 * The `node` flags of `npm start` (`--import ./src/preload.mjs --import tsx`), for tests and benches
 * that start the server or the CLI as child processes: they run what `npm start` and
 * `npm run cadence` run, so a change to those flags is tested too.
 */
export const NODE_FLAGS: readonly string[] = (() => {
  const words = scripts.start!.split(' ');
  if (words[0] !== 'node' || words.at(-1) !== 'src/node.ts') throw new Error(`unexpected start script: ${scripts.start}`);
  return words.slice(1, -1);
})();
