import { sha256Hex } from '../lib/hash.ts';
import { CampaignFile, type Campaign } from './campaign.ts';
import { ContentFile, type ContentItem } from './content.ts';
import {
  defaultSettings,
  defaultTraits,
  SettingsFile,
  TraitsFile,
  type Settings,
  type TraitRule,
} from './settings.ts';
import { didYouMean, parseYaml, RuleFileError, SourceMap, type RuleFileIssue } from './yaml.ts';

/**
 * Everything marketers steer through `rules/`, parsed and validated. Runtime-free: Node reads the
 * files (src/rules/node.ts), a Worker gets them bundled at deploy time; the domain only sees this.
 */
export interface RuleSet {
  settings: Settings;
  traits: TraitRule[];
  campaigns: Campaign[];
  content: ContentItem[];
  /** Every file the set was built from, with its SHA-256 (empty for the built-in defaults). */
  files: RuleFileInfo[];
}

export interface RuleFileInfo {
  /** As shown in messages: `rules/campaigns/x.yaml`. */
  path: string;
  hash: string;
}

/** One rule file's text; `name` is its path inside the rules folder (`campaigns/x.yaml`). */
export interface RuleFileText {
  name: string;
  /** Shown in messages; defaults to `rules/<name>`. */
  path?: string;
  text: string;
}

/** A parsed rule set with the source positions of every file, for reference checks. */
export interface ParsedRules {
  rules: RuleSet;
  sources: Map<string, SourceMap>;
}

export interface RulesStatus {
  /** When the live set was loaded (null: the built-in defaults). */
  loadedAt: string | null;
  /** The last failed load (kept until a later load succeeds), or null. */
  lastError: { at: string; message: string; issues: RuleFileIssue[] } | null;
  /** When files were last looked at (successfully or not). */
  checkedAt: string | null;
}

/** Where the live rule set comes from; `current()` is cheap and never throws. */
export interface RuleSource {
  current(): RuleSet;
  status?(): RulesStatus;
}

/** The shipped defaults, for chains (and tests) without rule files. */
export const defaultRuleSet: RuleSet = {
  settings: defaultSettings,
  traits: defaultTraits,
  campaigns: [],
  content: [],
  files: [],
};

export function staticRules(rules: RuleSet = defaultRuleSet): RuleSource {
  return { current: () => rules };
}

/**
 * A rule source whose set can be replaced: hot reload on Node. `replace` swaps the whole set in one
 * assignment, so a reader sees either the old set or the new one, never a mix; `fail` records a
 * refused load and keeps the old set live.
 */
export class LiveRules implements RuleSource {
  private set: RuleSet;
  private loadedAt: string | null;
  private lastError: RulesStatus['lastError'] = null;
  private checkedAt: string | null;

  constructor(initial: RuleSet, at: Date | null) {
    this.set = initial;
    this.loadedAt = at?.toISOString() ?? null;
    this.checkedAt = this.loadedAt;
  }

  current(): RuleSet {
    return this.set;
  }

  status(): RulesStatus {
    return { loadedAt: this.loadedAt, lastError: this.lastError, checkedAt: this.checkedAt };
  }

  replace(next: RuleSet, at: Date): void {
    this.set = next;
    this.loadedAt = at.toISOString();
    this.checkedAt = this.loadedAt;
    this.lastError = null;
  }

  fail(err: Error, at: Date): void {
    this.checkedAt = at.toISOString();
    this.lastError = {
      at: this.checkedAt,
      message: err.message,
      issues: err instanceof RuleFileError ? err.issues : [],
    };
  }
}

const KNOWN_TOP = ['settings.yaml', 'traits.yaml'];

/**
 * Builds a rule set from the files of a rules folder: `settings.yaml`, `traits.yaml`,
 * `campaigns/*.yaml`, `content/*.yaml` (a missing settings or traits file keeps the defaults).
 * Checks every file, then what the files say about each other (unique ids, traits and content a
 * campaign names); throws one RuleFileError with every issue of every file. References to the
 * catalogue are checked separately (`checkReferences`), since they need the database.
 */
export async function parseRuleSet(files: readonly RuleFileText[]): Promise<ParsedRules> {
  const issues: RuleFileIssue[] = [];
  const sources = new Map<string, SourceMap>();
  let settings = defaultSettings;
  let traits = defaultTraits;
  const campaigns: Campaign[] = [];
  const content: ContentItem[] = [];
  const infos: RuleFileInfo[] = [];
  const sorted = [...files].sort((a, b) => a.name.localeCompare(b.name));
  for (const f of sorted) {
    const path = f.path ?? `rules/${f.name}`;
    infos.push({ path, hash: await sha256Hex(f.text) });
    try {
      if (f.name === 'settings.yaml') {
        const r = parseYaml(SettingsFile, f.text, path);
        settings = r.value;
        sources.set(path, r.source);
      } else if (f.name === 'traits.yaml') {
        const r = parseYaml(TraitsFile, f.text, path);
        traits = r.value;
        sources.set(path, r.source);
      } else if (/^campaigns\/[^/]+\.yaml$/.test(f.name)) {
        const r = parseYaml(CampaignFile, f.text, path);
        campaigns.push({ ...r.value, file: path, fileHash: infos.at(-1)!.hash });
        sources.set(path, r.source);
      } else if (/^content\/[^/]+\.yaml$/.test(f.name)) {
        const r = parseYaml(ContentFile, f.text, path);
        content.push(...r.value.map((c) => ({ ...c, file: path })));
        sources.set(path, r.source);
      } else {
        const hint = didYouMean(f.name, KNOWN_TOP);
        issues.push({
          file: path,
          line: null,
          column: null,
          path: '(file)',
          message:
            'not a rule file: expected settings.yaml, traits.yaml, campaigns/*.yaml or content/*.yaml' +
            (hint ? `; did you mean ${hint}?` : ''),
        });
      }
    } catch (err) {
      if (err instanceof RuleFileError) issues.push(...err.issues);
      else throw err;
    }
  }
  const rules: RuleSet = { settings, traits, campaigns, content, files: infos };
  issues.push(...crossFileIssues(rules, sources));
  if (issues.length > 0) throw new RuleFileError(issues[0]!.file, issues);
  return { rules, sources };
}

/**
 * One campaign file checked against a live rule set (its traits and content), as if it were added
 * to it — or replaced the live campaign with the same id or file. Throws RuleFileError.
 */
export async function parseCampaignAgainst(live: RuleSet, file: RuleFileText): Promise<ParsedRules> {
  const path = file.path ?? `rules/${file.name}`;
  const issues: RuleFileIssue[] = [];
  const parsed = parseYaml(CampaignFile, file.text, path);
  const hash = await sha256Hex(file.text);
  const campaign: Campaign = { ...parsed.value, file: path, fileHash: hash };
  const sources = new Map([[path, parsed.source]]);
  const others = live.campaigns.filter((c) => c.id !== campaign.id && c.file !== path);
  const rules: RuleSet = { ...live, campaigns: [...others, campaign] };
  issues.push(...crossFileIssues(rules, sources).filter((i) => i.file === path));
  if (issues.length > 0) throw new RuleFileError(path, issues);
  // Only the new campaign is left to check against the catalogue.
  return { rules: { ...rules, campaigns: [campaign], content: [], files: [{ path, hash }] }, sources };
}

/** What files say about each other: unique ids, and the traits and content campaigns name. */
function crossFileIssues(rules: RuleSet, sources: Map<string, SourceMap>): RuleFileIssue[] {
  const out: RuleFileIssue[] = [];
  const at = (file: string, path: PropertyKey[], message: string) =>
    out.push(sources.get(file)?.issue(path, message) ?? { file, line: null, column: null, path: path.join('.'), message });

  const campaignFiles = new Map<string, string>();
  for (const c of rules.campaigns) {
    const first = campaignFiles.get(c.id);
    if (first) at(c.file, ['id'], `campaign id ${c.id} is already used by ${first}`);
    else campaignFiles.set(c.id, c.file);
  }
  const contentFiles = new Map<string, string>();
  const contentIndex = new Map<string, number>();
  for (const item of rules.content) {
    const n = contentIndex.get(item.file) ?? 0;
    contentIndex.set(item.file, n + 1);
    const first = contentFiles.get(item.id);
    if (first) at(item.file, ['content', n, 'id'], `content id ${item.id} is already used in ${first}`);
    else contentFiles.set(item.id, item.file);
  }

  const traitIds = rules.traits.map((t) => t.id);
  const checkTrait = (file: string, path: PropertyKey[], trait: string) => {
    if (traitIds.includes(trait)) return;
    const hint = didYouMean(trait, traitIds);
    at(file, path, `unknown trait ${trait} (rules/traits.yaml defines ${traitIds.join(', ') || 'none'})${hint ? `; did you mean ${hint}?` : ''}`);
  };
  for (const c of rules.campaigns) {
    c.audience.traits.forEach((t, i) => checkTrait(c.file, ['audience', 'traits', i], t));
    c.audience.exclude.traits.forEach((t, i) => checkTrait(c.file, ['audience', 'exclude', 'traits', i], t));
    c.content.forEach((id, i) => {
      if (contentFiles.has(id)) return;
      const hint = didYouMean(id, [...contentFiles.keys()]);
      at(c.file, ['content', i], `unknown content id ${id}${hint ? `; did you mean ${hint}?` : ''}`);
    });
  }
  const seen = new Map<string, number>();
  for (const item of rules.content) {
    const n = seen.get(item.file) ?? 0;
    seen.set(item.file, n + 1);
    item.suits.traits.forEach((t, i) => checkTrait(item.file, ['content', n, 'suits', 'traits', i], t));
  }
  return out;
}
