import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { scripts } from '../support/node-flags.ts';

const root = join(import.meta.dirname, '..', '..');

/** src/preload.mjs loads the heavy dependencies before tsx registers its hooks (see there why). */
describe('the start-up preload', () => {
  it('comes before tsx in every npm script that runs the server or the CLI', () => {
    for (const name of ['start', 'cadence', 'migrate']) {
      expect(scripts[name], name).toMatch(/^node --import \.\/src\/preload\.mjs --import tsx src\/(node|cli)\.ts\b/);
    }
  });

  it('hands the TypeScript code the very modules it loaded (one kysely, one zod)', async () => {
    // The preload's instances are taken before tsx is registered, as `--import` does it; the
    // TypeScript modules then import the same packages through tsx's hooks. Two instances of
    // kysely or zod would break their instanceof checks and load everything twice.
    const code = `
      await import('./src/preload.mjs');
      const { Kysely } = await import('kysely');
      const { z } = await import('zod');
      const { register } = await import('tsx/esm/api');
      register();
      const pg = await import('./src/db/postgres.ts');
      const { Config } = await import('./src/config.ts');
      console.log(JSON.stringify({ kysely: pg.postgresKysely(pg.postgresClient('postgres://x@127.0.0.1:9/x', 1)) instanceof Kysely, zod: Config instanceof z.ZodObject }));
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', code], { cwd: root });
    expect(JSON.parse(stdout.trim())).toEqual({ kysely: true, zod: true });
  });
});
