/**
 * Days, time zones and the retail calendar.
 *
 * The simulator counts time in epoch days (days since 1970-01-01, a plain integer) and only turns
 * them into text at the edge. Everything that needs Intl (the zone's UTC offset) is computed once
 * per day and cached, because formatting a timestamp per scanned line would dominate the run time.
 */

const MS_PER_DAY = 86_400_000;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Parses `YYYY-MM-DD` (a calendar date, no zone) into an epoch day. */
export function parseDate(date: string): number {
  const m = DATE_RE.exec(date);
  if (!m) throw new RangeError(`not a YYYY-MM-DD date: ${date}`);
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) {
    throw new RangeError(`no such date: ${date}`);
  }
  return Math.round(ms / MS_PER_DAY);
}

/** Formats an epoch day as `YYYY-MM-DD`. */
export function formatDate(day: number): string {
  return new Date(day * MS_PER_DAY).toISOString().slice(0, 10);
}

/** 0 = Sunday … 6 = Saturday (1970-01-01 was a Thursday). */
export function weekday(day: number): number {
  return (((day + 4) % 7) + 7) % 7;
}

function yearOf(day: number): number {
  return new Date(day * MS_PER_DAY).getUTCFullYear();
}

/** US Thanksgiving: the fourth Thursday of November. */
export function thanksgiving(year: number): number {
  const nov1 = Math.round(Date.UTC(year, 10, 1) / MS_PER_DAY);
  const firstThursday = nov1 + ((4 - weekday(nov1) + 7) % 7);
  return firstThursday + 21;
}

export function christmas(year: number): number {
  return Math.round(Date.UTC(year, 11, 25) / MS_PER_DAY);
}

/**
 * Relative shopping intensity by weekday (Sunday first), mean 1: Friday to Sunday are the busy
 * days in grocery retail.
 */
const WEEKDAY_TRIP_RATE = [1.1, 0.85, 0.85, 0.95, 0.95, 1.1, 1.2] as const;

export interface RetailDay {
  /** `YYYY-MM-DD`. */
  date: string;
  /** The zone's UTC offset during shopping hours, `±HH:MM`. */
  offset: string;
  /** Trips per ordinary day are scaled by this; 0 when stores are closed. */
  tripRate: number;
  /** Basket size multiplier (holiday stocking up). */
  basketFactor: number;
}

/** `±HH:MM` of a zone at one instant, from Intl's `longOffset` name (`GMT-05:00`, or `GMT`). */
function offsetAt(format: Intl.DateTimeFormat, ms: number): { text: string; minutes: number } {
  const name = format.formatToParts(ms).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
  const m = /^GMT([+-])(\d{2}):?(\d{2})?$/.exec(name);
  if (!m) return { text: '+00:00', minutes: 0 };
  const minutes = (Number(m[2]) * 60 + Number(m[3] ?? '0')) * (m[1] === '-' ? -1 : 1);
  return { text: `${m[1]}${m[2]}:${m[3] ?? '00'}`, minutes };
}

/**
 * Per-day facts for one chain: date text, the zone offset and the retail calendar (weekday rhythm,
 * Thanksgiving and Christmas peaks, closed days). Days are cached from `firstDay` on and the cache
 * grows on demand, so a simulation can run past the end of its history.
 */
export class ChainCalendar {
  private readonly format: Intl.DateTimeFormat;
  private readonly days: RetailDay[] = [];

  constructor(
    readonly timeZone: string,
    readonly firstDay: number,
  ) {
    // Throws RangeError on an unknown zone, which is the error the caller should see.
    this.format = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' });
  }

  day(day: number): RetailDay {
    const i = day - this.firstDay;
    if (i < 0) throw new RangeError(`day ${formatDate(day)} is before the calendar starts`);
    while (this.days.length <= i) this.days.push(this.compute(this.firstDay + this.days.length));
    return this.days[i] as RetailDay;
  }

  private compute(day: number): RetailDay {
    // DST switches happen at night; the offset at local noon is the one for shopping hours.
    const noonUtc = day * MS_PER_DAY + 12 * 3_600_000;
    const guess = offsetAt(this.format, noonUtc);
    const offset = offsetAt(this.format, noonUtc - guess.minutes * 60_000).text;

    const year = yearOf(day);
    const tg = thanksgiving(year);
    const xmas = christmas(year);
    let tripRate: number = WEEKDAY_TRIP_RATE[weekday(day)] as number;
    let basketFactor = 1;
    if (day === tg || day === xmas) {
      tripRate = 0;
    } else if (day >= tg - 6 && day < tg) {
      tripRate *= 1.4;
      basketFactor = 1.6;
    } else if (day >= xmas - 7 && day < xmas) {
      tripRate *= 1.35;
      basketFactor = 1.5;
    }
    return { date: formatDate(day), offset, tripRate, basketFactor };
  }
}

const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n));

/** ISO-8601 local timestamp with the zone's offset: `2026-03-01T10:15:00-05:00`. */
export function localTimestamp(day: RetailDay, secondOfDay: number): string {
  const h = Math.floor(secondOfDay / 3600);
  const m = Math.floor(secondOfDay / 60) % 60;
  const s = secondOfDay % 60;
  return `${day.date}T${pad2(h)}:${pad2(m)}:${pad2(s)}${day.offset}`;
}
