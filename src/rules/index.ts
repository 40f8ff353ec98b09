export { cellMatches, isLiveOn, type Campaign, type OfferKind } from './campaign.ts';
export type { ContentItem } from './content.ts';
export { holdoutBucket, holdoutSql, holdoutThreshold, inHoldout } from './holdout.ts';
export { checkRuleFiles, formatRulesCheck, previewCampaignFile, type RulesCheck } from './check-rules.ts';
export { costPerRedemption, previewCampaign, type CampaignPreview, type PreviewRow } from './preview.ts';
export { checkReferences } from './references.ts';
export {
  defaultRuleSet,
  LiveRules,
  parseCampaignAgainst,
  parseRuleSet,
  staticRules,
  type ParsedRules,
  type RuleFileText,
  type RuleSet,
  type RuleSource,
  type RulesStatus,
} from './rule-set.ts';
export { rulesRoutes } from './routes.ts';
export { defaultSettings, defaultTraits, parseSettings, parseTraits, type Settings, type TraitRule } from './settings.ts';
export { formatIssue, RuleFileError, type RuleFileIssue } from './yaml.ts';
