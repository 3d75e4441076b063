const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** HH:MM in the reader's time zone. */
export function formatHourMinute(time: Date): string {
  return `${pad(time.getHours())}:${pad(time.getMinutes())}`;
}

/** "Tuesday 14 May 2024" in the reader's time zone. */
export function formatDay(time: Date): string {
  return `${WEEKDAYS[time.getDay()]} ${time.getDate()} ${MONTHS[time.getMonth()]} ${time.getFullYear()}`;
}

/** True when both times fall on the same day in the reader's time zone. */
export function sameDay(a: Date, b: Date): boolean {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

/**
 * A past moment, short: "14:02" today, "Mon 13 May 14:02" this year,
 * "13 May 2023" before.
 */
export function formatWhen(time: Date, now: Date): string {
  if (sameDay(time, now)) return formatHourMinute(time);
  if (time.getFullYear() === now.getFullYear()) {
    return `${WEEKDAYS[time.getDay()].slice(0, 3)} ${time.getDate()} ${MONTHS[time.getMonth()].slice(0, 3)} ${formatHourMinute(time)}`;
  }
  return `${time.getDate()} ${MONTHS[time.getMonth()].slice(0, 3)} ${time.getFullYear()}`;
}
