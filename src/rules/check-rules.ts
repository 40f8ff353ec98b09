import type { Db } from '../db/index.ts';
import type { Campaign } from './campaign.ts';
import { previewCampaign, type CampaignPreview } from './preview.ts';
import { checkReferences } from './references.ts';
import {
  parseCampaignAgainst,
  parseRuleSet,
  type ParsedRules,
  type RuleFileText,
  type RuleSet,
} from './rule-set.ts';
import { RuleFileError, formatIssue, type RuleFileIssue } from './yaml.ts';

export interface RulesCheck {
  ok: boolean;
  issues: RuleFileIssue[];
  warnings: string[];
  /** The validated set (null when any file is invalid). */
  rules: RuleSet | null;
  previews: CampaignPreview[];
}

interface CheckDeps {
  db: Db;
  config: { CHAIN_TIME_ZONE: string };
}

/**
 * `rules check`: every file of a rules folder validated (schema, cross-file, catalogue references),
 * then — only when all are valid — a preview of each campaign (or of those in `previewFiles`).
 */
export async function checkRuleFiles(
  deps: CheckDeps,
  files: readonly RuleFileText[],
  opts: { previewFiles?: readonly string[]; preview?: boolean } = {},
): Promise<RulesCheck> {
  let parsed: ParsedRules;
  try {
    parsed = await parseRuleSet(files);
  } catch (err) {
    if (err instanceof RuleFileError) return { ok: false, issues: err.issues, warnings: [], rules: null, previews: [] };
    throw err;
  }
  return referencesAndPreview(deps, parsed, parsed.rules.settings, opts);
}

/**
 * POST /v1/rules/preview: one campaign file, checked against the live rules (traits, content, the
 * other campaigns' ids) and the catalogue, then previewed.
 */
export async function previewCampaignFile(
  deps: CheckDeps,
  live: RuleSet,
  file: RuleFileText,
): Promise<RulesCheck> {
  let parsed: ParsedRules;
  try {
    parsed = await parseCampaignAgainst(live, file);
  } catch (err) {
    if (err instanceof RuleFileError) return { ok: false, issues: err.issues, warnings: [], rules: null, previews: [] };
    throw err;
  }
  return referencesAndPreview(deps, parsed, live.settings, {});
}

async function referencesAndPreview(
  deps: CheckDeps,
  parsed: ParsedRules,
  settings: RuleSet['settings'],
  opts: { previewFiles?: readonly string[]; preview?: boolean },
): Promise<RulesCheck> {
  const refs = await checkReferences(deps.db, parsed);
  if (refs.issues.length > 0) {
    return { ok: false, issues: refs.issues, warnings: refs.warnings, rules: null, previews: [] };
  }
  const wanted = (c: Campaign) => !opts.previewFiles || opts.previewFiles.includes(c.file);
  const previews: CampaignPreview[] = [];
  if (opts.preview !== false) {
    for (const c of parsed.rules.campaigns.filter(wanted)) {
      previews.push(await previewCampaign(deps.db, c, { settings, timeZone: deps.config.CHAIN_TIME_ZONE }));
    }
  }
  return { ok: true, issues: [], warnings: refs.warnings, rules: parsed.rules, previews };
}

const money = (cents: number) => {
  const dollars = Math.round(cents) / 100;
  return `$${dollars.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
};
const count = (n: number) => n.toLocaleString('en-US');
const pct = (x: number) => `${Math.round(x * 100)}%`;

function describeOffer(c: Campaign): string {
  const o = c.offer;
  const steps = o.ladder ? [o.ladder.low, o.ladder.medium, o.ladder.high] : [];
  const ladder = (f: (v: number) => string) => (o.laddered ? `${steps.map(f).join('/')} by volume` : f(steps[0] ?? 0));
  switch (o.kind) {
    case 'percent_off':
      return `${ladder((v) => `${v}%`)} off`;
    case 'amount_off':
      return `${ladder(money)} off`;
    case 'price_point':
      return `price ${ladder(money)}`;
    case 'buy_x_get_y':
      return `buy ${o.buy} get ${o.get} free`;
    case 'reward_coupon':
      return `reward coupon ${money(o.valueCents ?? 0)}${o.minSpendCents ? ` (spend ${money(o.minSpendCents)})` : ''}`;
  }
}

/** The CLI's report: issues one per line, then a preview table per campaign, within 80 columns. */
export function formatRulesCheck(result: RulesCheck, campaigns: readonly Campaign[] = result.rules?.campaigns ?? []): string {
  const lines: string[] = [];
  if (!result.ok) {
    lines.push(`${result.issues.length} error${result.issues.length === 1 ? '' : 's'}:`);
    for (const i of result.issues) lines.push(formatIssue(i));
    return lines.join('\n');
  }
  for (const w of result.warnings) lines.push(`warning: ${w}`);
  const byId = new Map(campaigns.map((c) => [c.id, c]));
  const header = `${'cell'.padEnd(19)}${'reached'.padStart(8)}${'held out'.padStart(9)}${'offers'.padStart(8)}${'redeem'.padStart(8)}${'cost'.padStart(13)}${'vendor'.padStart(13)}`;
  const row = (r: CampaignPreview['total']) =>
    `${(r.cell === 'unclassified/unclassified' ? 'unclassified' : r.cell).padEnd(19)}${count(r.reached).padStart(8)}${count(r.heldOut).padStart(9)}${count(r.offers).padStart(8)}` +
    `${r.expectedRedemptions.toFixed(1).padStart(8)}${money(r.expectedCostCents).padStart(13)}${money(r.vendorFundedCents).padStart(13)}`;
  for (const p of result.previews) {
    const c = byId.get(p.campaignId);
    lines.push('');
    lines.push(p.campaignId);
    lines.push(`  file: ${p.file.length > 72 ? `…${p.file.slice(-71)}` : p.file}`);
    lines.push(`  ${p.name}`.slice(0, 80));
    if (c) {
      const facts = [
        describeOffer(c),
        `holdout ${c.holdoutPercent}%`,
        c.funding ? `${c.funding.manufacturerId} funds ${pct(c.funding.share)}` : 'store-funded',
      ];
      lines.push(`  ${facts.join(' · ')}`.slice(0, 80));
    }
    const when = p.date ? `period of ${p.periodDays} days from ${p.date}` : 'no analytics';
    const price = p.referencePriceCents !== null ? `, reference price ${money(p.referencePriceCents)}` : '';
    lines.push(`  ${when}${price}`.slice(0, 80));
    lines.push(header);
    for (const r of p.rows) lines.push(row(r));
    lines.push(row(p.total));
    const b = p.budget;
    const budget: string[] = [];
    if (b.maxOffers !== null) budget.push(`offers ${pct(b.offersUse ?? 0)} of ${count(b.maxOffers)}`);
    if (b.maxCostCents !== null) budget.push(`cost ${pct(b.costUse ?? 0)} of ${money(b.maxCostCents)}`);
    if (b.cutByBudget > 0) budget.push(`${count(b.cutByBudget)} left out`);
    lines.push(`budget: ${budget.length ? budget.join(', ') : 'no limit'}`);
    for (const n of p.notes) lines.push(`note: ${n}`);
  }
  const n = result.previews.length;
  lines.push('');
  lines.push(`ok: ${result.rules?.files.length ?? 0} rule files valid, ${n} campaign${n === 1 ? '' : 's'} previewed`);
  return lines.join('\n');
}
