export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

/**
 * JSON-lines logger. Callers pass ids and counts, never personal data (names, e-mail, card
 * numbers): logs leave the building.
 */
export function jsonLogger(level: LogLevel, write: (line: string) => void): Logger {
  const at =
    (lvl: Exclude<LogLevel, 'silent'>) =>
    (msg: string, fields: Record<string, unknown> = {}) => {
      if (order[lvl] < order[level]) return;
      write(JSON.stringify({ level: lvl, msg, ...fields }));
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export const silentLogger: Logger = jsonLogger('silent', () => {});

/**
 * An error as logs may carry it: its message with every value it quotes taken out, and its
 * SQLSTATE. Database errors quote the input they refused (`invalid input syntax for type integer:
 * "ada@example.com"`, `value "4990012345678" is out of range`), JSON errors a snippet of the body,
 * and the input is often a card number, an e-mail or a name. Quoted text, `=(…)` key values,
 * e-mail addresses and runs of 4+ digits become `…`.
 */
export function errorFields(err: unknown): { error: string; code?: string } {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown } | null)?.code;
  return {
    error: redact(message),
    ...(typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? { code } : {}),
  };
}

export function redact(text: string): string {
  return text
    .replace(/"[^"]*"/g, '"…"')
    .replace(/'[^']*'/g, "'…'")
    .replace(/=\([^)]*\)/g, '=(…)')
    .replace(/[^\s"'(),;:<>]+@[^\s"'(),;:<>]+/g, '…')
    .replace(/\+?\d(?:[\d\s.-]{2,}\d)/g, (m) => (m.replace(/\D/g, '').length >= 4 ? '…' : m));
}
