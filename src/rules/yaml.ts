import type { z } from 'zod';
import { isMap, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { ValidationError, type FieldIssue } from '../lib/errors.ts';

/**
 * The YAML half of every rule file: parse with source positions, validate with a zod schema, and
 * turn each problem into `file:line:column field: message`. Runtime-free (text in, value out).
 */

/** One problem in a rule file; `path` is the field (`offer.ladder.high`, `audience.cells[1]`). */
export interface RuleFileIssue extends FieldIssue {
  file: string;
  /** 1-based line of the field (or of its closest enclosing key), null when unknown. */
  line: number | null;
  /** 1-based column of that key, null when unknown. */
  column: number | null;
}

/** `rules/campaigns/x.yaml:12:5 offer.ladder.high: expected a percentage between 0 and 100` */
export function formatIssue(i: RuleFileIssue): string {
  const where = i.line === null ? i.file : `${i.file}:${i.line}:${i.column ?? 1}`;
  return `${where} ${i.path}: ${i.message}`;
}

export class RuleFileError extends ValidationError {
  readonly file: string;
  constructor(
    file: string,
    override readonly issues: RuleFileIssue[],
  ) {
    const files = [...new Set(issues.map((i) => i.file))];
    super(
      `${files.length === 1 ? files[0] : `${files.length} rule files`} ${
        files.length === 1 ? 'is' : 'are'
      } invalid:\n  ${issues.map(formatIssue).join('\n  ')}`,
      issues,
    );
    this.file = file;
  }
}

/** Positions of the fields of one parsed YAML document, by field path. */
export class SourceMap {
  constructor(
    readonly file: string,
    private readonly doc: Document,
    private readonly lineCounter: LineCounter,
  ) {}

  /** Line and column of the node at `path`, or of the deepest key on the way to it. */
  positionOf(path: readonly PropertyKey[]): { line: number | null; column: number | null } {
    let node: unknown = this.doc.contents;
    let offset: number | undefined = (this.doc.contents as Node | null)?.range?.[0];
    for (const part of path) {
      if (isMap(node)) {
        const pair = node.items.find(
          (p) => String((p.key as { value?: unknown })?.value) === String(part),
        );
        if (!pair) break;
        offset = (pair.key as Node | null)?.range?.[0] ?? offset;
        node = pair.value;
      } else if (isSeq(node) && typeof part === 'number') {
        const item = node.items[part] as Node | undefined;
        if (!item) break;
        offset = item.range?.[0] ?? offset;
        node = item;
      } else {
        break;
      }
    }
    if (offset === undefined) return { line: null, column: null };
    const pos = this.lineCounter.linePos(offset);
    return { line: pos.line, column: pos.col };
  }

  issue(path: readonly PropertyKey[], message: string): RuleFileIssue {
    return { file: this.file, ...this.positionOf(path), path: formatFieldPath(path), message };
  }
}

/** `['offer', 'ladder', 'high']` → `offer.ladder.high`; `['cells', 1]` → `cells[1]`. */
export function formatFieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(file)';
}

const TIMESTAMP = 'tag:yaml.org,2002:timestamp';

export interface ParsedYaml<T> {
  value: T;
  source: SourceMap;
}

/**
 * Parses one rule file and validates it with `schema`. An empty file (or only comments) is `{}`.
 * Throws RuleFileError with every problem: YAML syntax (and repeated keys), wrong types, unknown
 * keys (with a "did you mean" hint from the schema's own keys), failed refinements.
 */
export function parseYaml<S extends z.ZodType>(
  schema: S,
  text: string,
  file: string,
): ParsedYaml<z.output<S>> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter,
    uniqueKeys: true,
    prettyErrors: false,
    // YAML 1.1 (`%YAML 1.1`) reads a plain 2026-11-01 as a Date, and 2026-02-30 as March 2nd
    // without a word: plain scalars that look like dates stay text, which the schemas check. An
    // explicit `!!timestamp` still makes a Date (date fields take it: campaign.ts LocalDate).
    customTags: (tags) => tags.filter((t) => typeof t !== 'object' || t.tag !== TIMESTAMP),
  });
  if (doc.errors.length > 0) {
    throw new RuleFileError(
      file,
      doc.errors.map((e) => {
        const pos = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]);
        return {
          file,
          line: pos.line,
          column: pos.col,
          path: '(yaml)',
          message: e.message.split('\n')[0] ?? e.message,
        };
      }),
    );
  }
  const source = new SourceMap(file, doc, lineCounter);
  let data: unknown = {};
  try {
    if (doc.contents !== null) data = doc.toJS();
  } catch (err) {
    // Aliases expanding beyond yaml's limit (a "billion laughs" file), or nesting too deep to
    // build: the file is refused like any other broken YAML, not a 500.
    const message = err instanceof RangeError ? 'nested too deeply' : (err as Error).message;
    throw new RuleFileError(file, [{ file, line: null, column: null, path: '(yaml)', message }]);
  }
  const result = schema.safeParse(data);
  if (result.success) return { value: result.data, source };
  throw new RuleFileError(file, zodIssuesToRuleIssues(result.error, schema, data, source));
}

function zodIssuesToRuleIssues(
  error: z.ZodError,
  schema: z.ZodType,
  data: unknown,
  source: SourceMap,
): RuleFileIssue[] {
  const seen = new Set<string>();
  const out: RuleFileIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      // One issue per unknown key, each at its own line, with the nearest known key as a hint.
      const known = knownKeysAt(schema, issue.path, data);
      for (const key of issue.keys) {
        const hint = didYouMean(key, known);
        out.push(
          source.issue(
            [...issue.path, key],
            `unknown key${hint ? `; did you mean '${hint}'?` : known.length ? ` (expected one of: ${known.join(', ')})` : ''}`,
          ),
        );
      }
      continue;
    }
    const i = source.issue(issue.path, readableMessage(issue, schema, data));
    const key = `${i.path}\n${i.message}`;
    if (!seen.has(key)) out.push(i);
    seen.add(key);
  }
  return out;
}

function readableMessage(issue: z.core.$ZodIssue, schema: z.ZodType, data: unknown): string {
  if (issue.code === 'invalid_type' && valueAt(data, issue.path) === undefined) return 'required';
  // A key with nothing after it (`audience:`) is null in YAML: say so, unless the schema says it
  // better (its own message does not start with zod's default "Invalid input").
  if (
    issue.code === 'invalid_type' &&
    issue.expected === 'object' &&
    valueAt(data, issue.path) === null &&
    issue.message.startsWith('Invalid input')
  ) {
    const keys = knownKeysAt(schema, issue.path, undefined);
    const give = `give ${keys.length ? `some of: ${keys.join(', ')}` : 'its fields'}`;
    return mayBeLeftOut(schema, data, issue.path) ? `empty — remove it, or ${give}` : `empty — ${give}`;
  }
  return issue.message;
}

/** Would the file be free of problems at `path` without that key? (an optional section) */
function mayBeLeftOut(schema: z.ZodType, data: unknown, path: readonly PropertyKey[]): boolean {
  const clone = structuredClone(data);
  const parent = valueAt(clone, path.slice(0, -1));
  if (parent === null || typeof parent !== 'object' || path.length === 0) return false;
  delete (parent as Record<PropertyKey, unknown>)[path[path.length - 1] as string];
  const result = schema.safeParse(clone);
  const at = path.join('\u0000');
  return result.success || !result.error.issues.some((i) => i.path.join('\u0000') === at);
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let v = data;
  for (const part of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[part as string];
  }
  return v;
}

/** The object keys the schema allows at `path` (through wrappers, arrays, records, unions). */
export function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[], data: unknown): string[] {
  let node: unknown = schema;
  let value: unknown = data;
  let rest = [...path];
  for (let guard = 0; guard < 200; guard++) {
    const def = (node as { _zod?: { def?: Record<string, unknown> } })?._zod?.def;
    if (!def) return [];
    switch (def.type) {
      case 'pipe':
        node = def.in;
        continue;
      case 'default':
      case 'prefault':
      case 'optional':
      case 'nullable':
      case 'readonly':
      case 'catch':
      case 'nonoptional':
        node = def.innerType;
        continue;
      case 'lazy':
        node = (def.getter as () => unknown)();
        continue;
      case 'union': {
        const options = def.options as z.ZodType[];
        const disc = def.discriminator as string | undefined;
        const record = value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
        const matching = options.filter((o) => {
          const shape = shapeOf(o);
          if (!shape) return false;
          if (disc && shape[disc]) return shape[disc].safeParse(record[disc]).success;
          return true;
        });
        if (matching.length === 0) return [];
        if (matching.length === 1) {
          node = matching[0];
          continue;
        }
        if (rest.length === 0) {
          return [...new Set(matching.flatMap((o) => Object.keys(shapeOf(o) ?? {})))];
        }
        node = matching[0];
        continue;
      }
      case 'object': {
        const shape = def.shape as Record<string, z.ZodType>;
        if (rest.length === 0) return Object.keys(shape);
        const [head, ...tail] = rest;
        node = shape[String(head)];
        value = (value as Record<string, unknown> | undefined)?.[String(head)];
        rest = tail;
        continue;
      }
      case 'array': {
        if (rest.length === 0) return [];
        const [head, ...tail] = rest;
        node = def.element;
        value = (value as unknown[] | undefined)?.[Number(head)];
        rest = tail;
        continue;
      }
      case 'record': {
        if (rest.length === 0) return [];
        const [head, ...tail] = rest;
        node = def.valueType;
        value = (value as Record<string, unknown> | undefined)?.[String(head)];
        rest = tail;
        continue;
      }
      default:
        return [];
    }
  }
  return [];
}

function shapeOf(schema: unknown): Record<string, z.ZodType> | null {
  let node = schema;
  for (let guard = 0; guard < 50; guard++) {
    const def = (node as { _zod?: { def?: Record<string, unknown> } })?._zod?.def;
    if (!def) return null;
    if (def.type === 'object') return def.shape as Record<string, z.ZodType>;
    if (def.type === 'pipe') node = def.in;
    else if ('innerType' in def) node = def.innerType;
    else return null;
  }
  return null;
}

/** The candidate closest to `word` by edit distance, when close enough to be a likely typo. */
export function didYouMean(word: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  const w = word.toLowerCase();
  for (const c of candidates) {
    const d = editDistance(w, c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  const limit = Math.max(1, Math.floor(word.length / 3));
  return best !== null && bestDistance <= limit ? best : null;
}

/** Damerau–Levenshtein (optimal string alignment): a swapped pair of letters is one edit. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      }
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
