/** The rule files bundled at deploy time (src/rules/bundle.ts); wrangler.toml's [alias] resolves it. */
declare module 'cadence:rules' {
  const files: readonly import('./rule-set.ts').RuleFileText[];
  export default files;
}
