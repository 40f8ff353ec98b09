import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lockDataDir } from '../../src/db/lock.ts';
import { openPglite } from '../../src/db/node.ts';

// The embedded database holds members' names, e-mails and phone numbers; PGlite writes its files
// world-readable and -writable (0666). The folder must keep other users of the machine out.

const root = mkdtempSync(join(tmpdir(), 'cadence-datadir-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const mode = (p: string) => statSync(p).mode & 0o777;

describe.skipIf(process.platform === 'win32')('the embedded data folder', () => {
  it('is created private to its owner', async () => {
    const dir = join(root, 'fresh', 'data');
    const release = lockDataDir(dir, { owner: 'cli' });
    const database = await openPglite(dir);
    await database.close();
    release();
    expect(mode(dir).toString(8)).toBe('700');
  });

  it('an existing folder open to others is closed to them when opened', async () => {
    const dir = join(root, 'old');
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    const database = await openPglite(dir);
    await database.close();
    expect(mode(dir) & 0o007).toBe(0);
    expect(mode(dir) & 0o020).toBe(0);
    const locked = join(root, 'old-lock');
    mkdirSync(locked);
    chmodSync(locked, 0o755);
    lockDataDir(locked, { owner: 'cli' })();
    expect(mode(locked) & 0o007).toBe(0);
  });
});
