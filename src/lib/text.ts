/**
 * Text PostgreSQL cannot store as sent: U+0000 (text values may not contain NUL) and lone UTF-16
 * surrogates (not Unicode: encoded as U+FFFD on the way in, so what is stored would differ from
 * what was sent). Both come in through JSON escapes (`\u0000`, `\ud800`) or CSV bytes.
 */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why `s` cannot be stored, or null when it can. */
export function unstorableReason(s: string): string | null {
  if (s.includes('\u0000')) return 'holds a NUL character (U+0000), which cannot be stored';
  if (LONE_SURROGATE.test(s)) return 'is not well-formed Unicode (a lone surrogate)';
  return null;
}

/**
 * The first string (value or key) in a parsed JSON value that cannot be stored: its path
 * (`baskets[3].terminalId`; `(body)` for the value itself) and why. Null when all can. Walks with
 * its own stack, depth first in document order: a body nested 100,000 deep (200 kB) overflowed
 * the call stack of a recursive walk, a 500.
 */
export function firstUnstorableText(value: unknown): { path: (string | number)[]; reason: string } | null {
  // The path is a chain to the parent (copying it per value would be quadratic in the depth).
  type Step = { v: unknown; key: string | number; up: Step | null };
  const pathOf = (step: Step) => {
    const path: (string | number)[] = [];
    for (let s: Step | null = step; s?.up; s = s.up) path.push(s.key);
    return path.reverse();
  };
  const stack: Step[] = [{ v: value, key: '', up: null }];
  while (stack.length > 0) {
    const step = stack.pop()!;
    const v = step.v;
    if (typeof v === 'string') {
      const reason = unstorableReason(v);
      if (reason) return { path: pathOf(step), reason };
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], key: i, up: step });
    } else if (typeof v === 'object' && v !== null) {
      const entries = Object.entries(v);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [k, x] = entries[i]!;
        // A bad key is reported at its own path, before its value and the keys after it.
        stack.push({ v: unstorableReason(k) ? k : x, key: k, up: step });
      }
    }
  }
  return null;
}

/**
 * `s` cut to at most `max` UTF-16 code units (the unit of the documents' length limits) without
 * splitting a surrogate pair: `slice` cut an emoji in a product name in half, leaving a lone
 * surrogate that prints as garbage (and that PostgreSQL cannot store).
 */
export function clipText(s: string, max: number): string {
  if (s.length <= max) return s;
  const code = s.charCodeAt(max - 1);
  return s.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}
