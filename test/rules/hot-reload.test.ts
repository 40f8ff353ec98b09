import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/lib/clock.ts';
import { jsonLogger } from '../../src/lib/logger.ts';
import { loadRuleFiles, watchRules, type RulesWatcher } from '../../src/rules/node.ts';
import { LiveRules, type RuleFileIssue } from '../../src/rules/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'cadence-rules-'));
const pet = join(dir, 'campaigns', 'pet-food-owners.yaml');
const logs: Array<Record<string, unknown>> = [];
const clock = fixedClock('2026-11-24T10:00:00Z');
let live: LiveRules;
let watcher: RulesWatcher;
let refuse: RuleFileIssue[] = [];

beforeAll(async () => {
  cpSync(new URL('../../rules', import.meta.url).pathname, dir, { recursive: true });
  live = new LiveRules(await loadRuleFiles(dir), clock.now());
  watcher = watchRules(dir, live, {
    logger: jsonLogger('info', (line) => logs.push(JSON.parse(line))),
    clock,
    debounceMs: 50,
    validate: async () => refuse,
  });
});
afterAll(() => {
  watcher.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Waits for the watcher (real file-system events) to have acted. */
async function until(what: string, ok: () => boolean, ms = 10_000) {
  const start = Date.now();
  while (!ok()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
const petCampaign = () => live.current().campaigns.find((c) => c.id === 'pet-food-owners');

describe('hot reload', () => {
  it('swaps in a valid edit as a whole new rule set', async () => {
    const before = live.current();
    clock.set('2026-11-24T10:05:00Z');
    writeFileSync(pet, readFileSync(pet, 'utf8').replace('name: Treat your pet', 'name: Treat your pet well'));
    await until('the edit to go live', () => petCampaign()?.name === 'Treat your pet well');
    expect(live.current()).not.toBe(before);
    expect(before.campaigns.find((c) => c.id === 'pet-food-owners')!.name).toBe('Treat your pet');
    expect(petCampaign()!.fileHash).not.toBe(before.campaigns.find((c) => c.id === 'pet-food-owners')!.fileHash);
    expect(live.status()).toMatchObject({ loadedAt: '2026-11-24T10:05:00.000Z', lastError: null });
    expect(logs.at(-1)).toMatchObject({ level: 'info', msg: 'rules reloaded', campaigns: 8 });
  });

  it('keeps the old rules live after a broken edit, and says where it broke', async () => {
    const good = live.current();
    clock.set('2026-11-24T10:10:00Z');
    writeFileSync(pet, readFileSync(pet, 'utf8').replace('    high: 250', '    high: -250'));
    await until('the edit to be refused', () => live.status().lastError !== null);
    expect(live.current()).toBe(good);
    expect(petCampaign()!.offer.ladder!.high).toBe(250);
    const error = live.status().lastError!;
    expect(error.at).toBe('2026-11-24T10:10:00.000Z');
    expect(error.issues).toEqual([
      expect.objectContaining({ file: pet, line: 16, column: 5, message: "expected more than 0 cents", path: 'offer.ladder.high' }),
    ]);
    expect(logs.at(-1)).toMatchObject({ level: 'error', msg: 'rules reload refused; the previous rules stay live' });
    expect((logs.at(-1)!.issues as string[])[0]).toMatch(/pet-food-owners\.yaml:16:5 offer\.ladder\.high: /);
    expect(live.status().loadedAt).toBe('2026-11-24T10:05:00.000Z');
  });

  it('goes live again once the file is fixed, and picks up new files', async () => {
    clock.set('2026-11-24T10:15:00Z');
    writeFileSync(pet, readFileSync(pet, 'utf8').replace('    high: -250', '    high: 300'));
    await until('the fix to go live', () => petCampaign()?.offer.ladder?.high === 300);
    expect(live.status().lastError).toBeNull();
    writeFileSync(join(dir, 'campaigns', 'coffee.yaml'),
      'id: coffee\nname: Coffee\nactive: { from: 2026-01-01, to: 2026-12-31 }\n' +
      'promotes: { categories: [coffee] }\noffer: { kind: percent_off, percent: 10 }\n');
    await until('the new campaign', () => live.current().campaigns.some((c) => c.id === 'coffee'));
  });

  it('refuses an edit the catalogue check rejects, keeping the old set', async () => {
    const good = live.current();
    refuse = [{ file: 'x', line: 1, column: 1, path: 'promotes.categories[0]', message: 'unknown category' }];
    writeFileSync(pet, readFileSync(pet, 'utf8').replace('name: Treat your pet well', 'name: Renamed'));
    await until('the refusal', () => live.status().lastError !== null);
    expect(live.current()).toBe(good);
    refuse = [];
    expect(await watcher.reload()).toBe('swapped');
    expect(petCampaign()!.name).toBe('Renamed');
  });
});
