/**
 * Store-local time. A "local" timestamp (no offset) is read in an IANA time zone: we find the
 * zone's UTC offset at that wall-clock time with Intl (no tz database of our own). In the DST
 * gap the clock jumps forward (02:30 → 03:30); in the overlap the earlier instant wins.
 */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Offset of `timeZone` from UTC at instant `epochMs`, in minutes (New York in winter: -300). */
export function zoneOffsetMinutes(epochMs: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(epochMs))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  const asUtc = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
  return Math.round((asUtc - Math.floor(epochMs / 1000) * 1000) / 60_000);
}

const localPattern = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?$/;

/** True when `text` is a date or date-time without a UTC offset. */
export function isLocalTimestamp(text: string): boolean {
  return localPattern.test(text);
}

/**
 * Converts a local date (`2026-03-08`, read as midnight) or date-time (`2026-03-08 10:15[:00]`)
 * in `timeZone` to an ISO instant with `Z`. Returns null if the text is not a real local time.
 */
export function localToInstant(text: string, timeZone: string): string | null {
  const m = localPattern.exec(text);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4] ?? '0', m[5] ?? '0', m[6] ?? '0'].map(
    Number,
  ) as [number, number, number, number, number, number];
  // Date.UTC reads years 0–99 as 1900–1999: the year is set on its own.
  const check = new Date(Date.UTC(2000, mo - 1, d, h, mi, s, Math.floor(Number(`0.${m[7] ?? '0'}`) * 1000)));
  check.setUTCFullYear(y);
  const wall = check.getTime();
  if (check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) {
    return null;
  }
  // The zone's offsets a day before and a day after (zones change offset at most once in two
  // days): the wall time read with each is a candidate, right if the zone has that offset then.
  // Both right: the repeated hour, the earlier wins. Neither: the skipped hour, read with the
  // offset before the change, which moves it forward (02:30 → 03:30). Reading the offset at the
  // wall time itself taken as UTC got both wrong east of UTC, where that instant is hours off.
  const before = zoneOffsetMinutes(wall - 86_400_000, timeZone);
  const after = zoneOffsetMinutes(wall + 86_400_000, timeZone);
  const early = wall - before * 60_000;
  const late = wall - after * 60_000;
  const earlyFits = zoneOffsetMinutes(early, timeZone) === before;
  const lateFits = zoneOffsetMinutes(late, timeZone) === after;
  const at = earlyFits && lateFits ? Math.min(early, late) : earlyFits ? early : lateFits ? late : early;
  return new Date(at).toISOString();
}

/** The calendar date (YYYY-MM-DD) of an instant in a time zone. */
export function localDate(at: Date, timeZone: string): string {
  const parts: Record<string, string> = {};
  for (const p of formatter(timeZone).formatToParts(at)) parts[p.type] = p.value;
  return `${parts.year}-${parts.month}-${parts.day}`;
}

const instantPattern =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?(?:Z|([+-])(\d{2}):?(\d{2}))$/;

/** An instant to the microsecond, as PostgreSQL's timestamptz holds it. */
export interface Instant {
  /** Whole seconds since 1970-01-01T00:00:00Z (floor, so negative before 1970). */
  seconds: number;
  /** Microseconds after `seconds`, 0–999,999. */
  micros: number;
}

/**
 * Reads an ISO-8601 instant with a UTC offset (`2026-11-24T10:15:00.25-05:00`, `…Z`, seconds and
 * fraction optional, up to microseconds). Null unless it is a real calendar date and clock time
 * (no 30 February, no hour 24 or second 60) with an offset within PostgreSQL's ±15:59:
 * `Date.parse` rolls 2025-02-30 over into March, which PostgreSQL then refuses.
 */
export function parseInstant(text: string): Instant | null {
  const m = instantPattern.exec(text);
  if (!m) return null;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = m[6] ? Number(m[6]) : 0;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  let offset = 0;
  if (m[8]) {
    const oh = Number(m[9]);
    const om = Number(m[10]);
    if (oh > 15 || om > 59) return null;
    offset = (m[8] === '-' ? -1 : 1) * (oh * 3600 + om * 60);
  }
  const seconds = daysFromCivil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset;
  return { seconds, micros: m[7] ? Number(m[7].padEnd(6, '0')) : 0 };
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant, "chrono-compatible low-level
 * date algorithms"): integer arithmetic, where a Date object per basket was a tenth of the hash.
 */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** The instant as PostgreSQL prints `extract(epoch from ts)::text` (PostgreSQL 14+: 6 decimals). */
export function epochText(at: Instant): string {
  if (at.seconds >= 0 || at.micros === 0) return `${at.seconds}.${String(at.micros).padStart(6, '0')}`;
  // -9.5 s is seconds -10 plus 500,000 µs
  return `-${-at.seconds - 1}.${String(1_000_000 - at.micros).padStart(6, '0')}`;
}
