/**
 * Plist dates: `YYYY-MM-DDTHH:MM:SSZ` in UTC, whole seconds.
 *
 * Both directions do the calendar arithmetic by hand (Howard Hinnant's days-from-civil
 * algorithms) because Date's setters and toISOString cost a few hundred nanoseconds each,
 * which added up to a third of the time spent writing a DeviceInformation response.
 */
import { Invalid, trimXml } from './scalars';

const MS_PER_DAY = 86_400_000;

/**
 * `<date>` text. Fractional seconds are accepted (kept to the millisecond) although Apple
 * never writes them; surrounding whitespace is allowed.
 */
export function parseDate(raw: string): Date | Invalid {
  const text = trimXml(raw);
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  const second = digits(text, 17, 2);
  let end = 19;
  let ms = 0;
  if (text.charCodeAt(19) === 0x2e /* . */) {
    end = 20;
    while (isDigit(text.charCodeAt(end))) end++;
    ms = end === 20 ? NaN : Math.floor(Number(`0${text.slice(19, end)}`) * 1000);
  }
  const wellFormed =
    text.charCodeAt(4) === 0x2d &&
    text.charCodeAt(7) === 0x2d &&
    text.charCodeAt(10) === 0x54 && // T
    text.charCodeAt(13) === 0x3a &&
    text.charCodeAt(16) === 0x3a &&
    text.charCodeAt(end) === 0x5a && // Z
    end === text.length - 1 &&
    (year | month | day | hour | minute | second) >= 0 &&
    !Number.isNaN(ms);
  if (!wellFormed) {
    const shown = JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
    return new Invalid(text === '' ? 'empty <date>' : `<date> must look like 2024-01-31T12:00:00Z, got ${shown}`);
  }
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59) {
    return new Invalid(`<date> "${text}" is not a real calendar date and time`);
  }
  const days = daysFromCivil(year, month, day);
  return new Date(days * MS_PER_DAY + ((hour * 60 + minute) * 60 + second) * 1000 + ms);
}

/** The text of a `<date>` for a valid Date, or undefined outside the years 0000–9999. */
export function formatDate(date: Date): string | undefined {
  const seconds = Math.floor(date.getTime() / 1000);
  const days = Math.floor(seconds / 86_400);
  let rest = seconds - days * 86_400;
  const [year, month, day] = civilFromDays(days);
  if (!(year >= 0 && year <= 9999)) return undefined;
  const hour = Math.floor(rest / 3600);
  rest -= hour * 3600;
  const minute = Math.floor(rest / 60);
  const second = rest - minute * 60;
  return `${pad4(year)}-${pad2(month)}-${pad2(day)}T${pad2(hour)}:${pad2(minute)}:${pad2(second)}Z`;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

function pad4(n: number): string {
  return n >= 1000 ? `${n}` : `000${n}`.slice(-4);
}

/** Non-negative integer from `count` ASCII digits at `at`, or -1. */
function digits(text: string, at: number, count: number): number {
  let n = 0;
  for (let i = at; i < at + count; i++) {
    const c = text.charCodeAt(i);
    if (!isDigit(c)) return -1;
    n = n * 10 + (c - 0x30);
  }
  return n;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Days since 1970-01-01 of a proleptic Gregorian date. */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** Inverse of daysFromCivil. */
function civilFromDays(days: number): [number, number, number] {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (month <= 2 ? 1 : 0), month, day];
}
