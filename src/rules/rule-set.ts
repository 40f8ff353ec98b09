import { defaultSettings, defaultTraits, type Settings, type TraitRule } from './settings.ts';

/**
 * Everything marketers steer through `rules/`, parsed and validated. Runtime-free: Node reads the
 * files (src/rules/files.ts), a Worker would get them bundled; the domain code only sees this.
 */
export interface RuleSet {
  settings: Settings;
  traits: TraitRule[];
}

/** Where the live rule set comes from; `current()` is cheap and never throws. */
export interface RuleSource {
  current(): RuleSet;
}

/** The shipped defaults, for chains (and tests) without rule files. */
export const defaultRuleSet: RuleSet = { settings: defaultSettings, traits: defaultTraits };

export function staticRules(rules: RuleSet = defaultRuleSet): RuleSource {
  return { current: () => rules };
}
