import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RuleSet } from './rule-set.ts';
import { defaultSettings, defaultTraits, parseSettings, parseTraits } from './settings.ts';

/**
 * Reads `settings.yaml` and `traits.yaml` from a rules folder (Node only). A missing file keeps the
 * defaults; an invalid one throws RuleFileError naming file, line and field.
 */
export function loadRuleFiles(dir: string): RuleSet {
  const settingsPath = join(dir, 'settings.yaml');
  const traitsPath = join(dir, 'traits.yaml');
  return {
    settings: existsSync(settingsPath)
      ? parseSettings(readFileSync(settingsPath, 'utf8'), settingsPath)
      : defaultSettings,
    traits: existsSync(traitsPath) ? parseTraits(readFileSync(traitsPath, 'utf8'), traitsPath) : defaultTraits,
  };
}
