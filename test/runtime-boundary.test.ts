import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Only the entry points (the worker imports async_hooks, which Workers provide) and the Node branch of db/ may import Node built-ins, PGlite,
 * node-cron or the Node server adapter: everything else must run on Workers too.
 */
const allowed = new Set(['src/node.ts', 'src/worker.ts', 'src/cli.ts', 'src/db/node.ts', 'src/db/lock.ts', 'src/rules/node.ts', 'src/lists/node.ts', 'src/ingest/node.ts']);
const nodeOnly = /from\s+['"](node:[^'"]+|@electric-sql\/pglite[^'"]*|node-cron|@hono\/node-server)['"]/;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('runtime boundary', () => {
  it('keeps Node-only imports in the Node entry files', () => {
    const root = join(import.meta.dirname, '..');
    const offenders = files(join(root, 'src'))
      .map((f) => relative(root, f))
      .filter((f) => !allowed.has(f) && nodeOnly.test(readFileSync(join(root, f), 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('keeps domain code off the clock and Math.random', () => {
    const root = join(import.meta.dirname, '..');
    const offenders = files(join(root, 'src'))
      .map((f) => relative(root, f))
      .filter((f) => !allowed.has(f) && !f.startsWith('src/lib/clock.ts'))
      .filter((f) => /Date\.now\(\)|new Date\(\)|Math\.random\(\)/.test(readFileSync(join(root, f), 'utf8')));
    expect(offenders).toEqual([]);
  });
});
