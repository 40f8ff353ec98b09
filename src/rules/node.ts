import { existsSync, readdirSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import { LiveRules, parseRuleSet, type ParsedRules, type RuleFileText, type RuleSet } from './rule-set.ts';
import { formatIssue, RuleFileError, type RuleFileIssue } from './yaml.ts';

/**
 * Node-only half of the rules: reading a rules folder, and hot reload. Parsing and validation are
 * runtime-free (rule-set.ts); this file only turns a folder into `{ name, path, text }` entries.
 */

const SUBFOLDERS = ['campaigns', 'content'];
const isYaml = (name: string) => /\.ya?ml$/.test(name);

/**
 * The rule files of a folder (none when it does not exist): top-level YAML files and those in campaigns/ and content/. Files
 * with another extension are ignored; YAML files the loader does not expect (a `.yml` campaign, a
 * misspelt settings file) are passed on so the loader can refuse them by name.
 */
export function readRuleFiles(dir: string): RuleFileText[] {
  // No folder: the built-in defaults, as before campaigns existed.
  if (!existsSync(dir)) return [];
  const out: RuleFileText[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    if (SUBFOLDERS.includes(name) && statSync(full).isDirectory()) {
      for (const inner of readdirSync(full).sort()) {
        if (isYaml(inner)) out.push({ name: `${name}/${inner}`, path: join(full, inner), text: readFileSync(join(full, inner), 'utf8') });
      }
    } else if (isYaml(name) && statSync(full).isFile()) {
      out.push({ name, path: full, text: readFileSync(full, 'utf8') });
    }
  }
  return out;
}

/** Reads and validates a rules folder (no catalogue checks); throws RuleFileError. */
export async function loadRuleFiles(dir: string): Promise<RuleSet> {
  return (await parseRuleSet(readRuleFiles(dir))).rules;
}

export interface RulesWatcher {
  /** Reloads now (what a file change triggers); resolves when the attempt is done. */
  reload(): Promise<'swapped' | 'refused'>;
  close(): void;
}

/**
 * Hot reload: watches the folder (and campaigns/, content/) and, a moment after a change, reads and
 * validates every file — schema, cross-file checks and `validate` (the catalogue references). When
 * all pass, the new set replaces the old one in `live` in one step; otherwise the old set stays
 * live, the error is logged (files, lines and fields only: rule files hold no personal data) and
 * kept for GET /v1/rules/status. Reloads never overlap: a change during one queues one more.
 */
export function watchRules(
  dir: string,
  live: LiveRules,
  deps: {
    logger: Logger;
    clock: Clock;
    validate?: (parsed: ParsedRules) => Promise<RuleFileIssue[]>;
    debounceMs?: number;
  },
): RulesWatcher {
  const { logger, clock } = deps;
  let running: Promise<'swapped' | 'refused'> | null = null;
  let again = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let closed = false;

  async function attempt(): Promise<'swapped' | 'refused'> {
    try {
      const parsed = await parseRuleSet(readRuleFiles(dir));
      const issues = deps.validate ? await deps.validate(parsed) : [];
      if (issues.length > 0) throw new RuleFileError(issues[0]!.file, issues);
      live.replace(parsed.rules, clock.now());
      logger.info('rules reloaded', {
        campaigns: parsed.rules.campaigns.length,
        content: parsed.rules.content.length,
        files: parsed.rules.files.length,
      });
      return 'swapped';
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      live.fail(error, clock.now());
      logger.error('rules reload refused; the previous rules stay live', {
        issues: err instanceof RuleFileError ? err.issues.map(formatIssue) : [error.message],
      });
      return 'refused';
    }
  }

  function reload(): Promise<'swapped' | 'refused'> {
    if (running) {
      again = true;
      return running;
    }
    running = attempt().finally(() => {
      running = null;
      if (again && !closed) {
        again = false;
        void reload();
      }
    });
    return running;
  }

  const watchers = new Map<string, FSWatcher>();
  const schedule = () => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      watchFolders();
      void reload();
    }, deps.debounceMs ?? 200);
  };
  function watchFolders() {
    for (const folder of [dir, ...SUBFOLDERS.map((s) => join(dir, s))]) {
      if (watchers.has(folder) || !existsSync(folder)) continue;
      const w = watch(folder, { persistent: false }, schedule);
      w.on('error', () => {
        w.close();
        watchers.delete(folder);
      });
      watchers.set(folder, w);
    }
  }
  watchFolders();

  return {
    reload,
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
}
