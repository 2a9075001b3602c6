// Dates, times, numbers and distances through Intl, in the user's locale;
// an asset's sessions in the asset's own time zone, which is said.
import { locale, t } from './i18n';
import type { Session } from './types';

const weekdays = ['WEEKDAY_MONDAY', 'WEEKDAY_TUESDAY', 'WEEKDAY_WEDNESDAY', 'WEEKDAY_THURSDAY', 'WEEKDAY_FRIDAY', 'WEEKDAY_SATURDAY', 'WEEKDAY_SUNDAY'];

/** The weekday's name, plural-free ("Tuesday", "dinsdag"). 2024-01-01 was a Monday. */
export function weekday(day: string): string {
  const i = weekdays.indexOf(day);
  if (i < 0) return day;
  return new Intl.DateTimeFormat(locale(), { weekday: 'long', timeZone: 'UTC' }).format(Date.UTC(2024, 0, 1 + i));
}

/** A wall-clock "HH:MM" as the locale writes times ("10:30 am", "10:30"). */
export function clock(hhmm: string): string {
  const [hh, mm] = hhmm.split(':').map(Number);
  return new Intl.DateTimeFormat(locale(), { hour: 'numeric', minute: '2-digit', timeZone: 'UTC' }).format(Date.UTC(2024, 0, 1, hh, mm));
}

/** The zone's name in the user's language ("Greenwich Mean Time", "Midden-Europese tijd"). */
export function zoneName(tz: string): string {
  try {
    const parts = new Intl.DateTimeFormat(locale(), { timeZone: tz, timeZoneName: 'long' }).formatToParts(new Date());
    return parts.find((p) => p.type === 'timeZoneName')?.value ?? tz;
  } catch {
    return tz;
  }
}

/** "Tuesday 10:30–12:00", in the session's own time zone. */
export const session = (s: Session) => t('session.line', { day: weekday(s.day), start: clock(s.start_time), end: clock(s.end_time) });

/** An instant in a given zone, as the locale writes it. */
export const when = (iso: string, tz?: string) =>
  new Intl.DateTimeFormat(locale(), { dateStyle: 'full', timeStyle: 'short', timeZone: tz }).format(new Date(iso));

/**
 * "Tue 3 Dec, 10:00" ("di 3 dec, 10:00"; "Tue, Dec 3, 9:30 AM" in the
 * US): a start, short, as the locale writes it, in tz; in the browser's
 * own zone when tz is not given (or is one this browser does not know).
 * The hour has two digits on a 24-hour clock ("09:30", as the locale's
 * own short times), one on a 12-hour clock ("9:30 AM").
 */
export function shortWhen(iso: string, tz?: string): string {
  const h12 = new Intl.DateTimeFormat(locale(), { hour: 'numeric' }).resolvedOptions().hour12;
  const opts: Intl.DateTimeFormatOptions = { weekday: 'short', day: 'numeric', month: 'short', hour: h12 ? 'numeric' : '2-digit', minute: '2-digit' };
  try {
    return new Intl.DateTimeFormat(locale(), { ...opts, timeZone: tz }).format(new Date(iso));
  } catch {
    return new Intl.DateTimeFormat(locale(), opts).format(new Date(iso));
  }
}

export function distance(m: number): string {
  const f = new Intl.NumberFormat(locale(), { style: 'unit', unit: m < 1000 ? 'meter' : 'kilometer', maximumFractionDigits: m < 1000 ? 0 : 1 });
  return f.format(m < 1000 ? Math.round(m / 10) * 10 : m / 1000);
}
