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
 * (`baskets[3].terminalId`; `(body)` for the value itself) and why. Null when all can.
 */
export function firstUnstorableText(value: unknown): { path: (string | number)[]; reason: string } | null {
  const path: (string | number)[] = [];
  const visit = (v: unknown): string | null => {
    if (typeof v === 'string') return unstorableReason(v);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        path.push(i);
        const reason = visit(v[i]);
        if (reason) return reason;
        path.pop();
      }
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        path.push(k);
        const reason = unstorableReason(k) ?? visit(x);
        if (reason) return reason;
        path.pop();
      }
    }
    return null;
  };
  const reason = visit(value);
  return reason ? { path, reason } : null;
}
