/* Times as the page shows them, in the reader's time zone and locale. */

export const GROUP_MS = 5 * 60 * 1000; // one author's messages this close together form a group

// { short, full }: the time alone for today, with the date otherwise.
export function fmtTime(iso) {
  const d = new Date(iso);
  if (isNaN(d.getTime())) return { short: '', full: '' };
  const t = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  const sameDay = d.toDateString() === new Date().toDateString();
  return {
    short: sameDay ? t : d.toLocaleDateString([], { month: 'short', day: 'numeric' }) + ', ' + t,
    full: d.toLocaleString()
  };
}

// A mute's refusal in one sentence, its end (ms or RFC 3339) in the
// reader's time zone.
export function mutedText(until) {
  return 'A moderator has muted you until ' + fmtTime(until).short + '. You can read along, and write again after that.';
}

// Milliseconds since the epoch, 0 for a missing or bad time.
export function timeOf(iso) {
  const t = Date.parse(iso || '');
  return isNaN(t) ? 0 : t;
}

function pad2(n) { return (n < 10 ? '0' : '') + n; }

// The local day of a time (ms), as "YYYY-MM-DD".
export function dayKey(t) {
  const d = new Date(t);
  return d.getFullYear() + '-' + pad2(d.getMonth() + 1) + '-' + pad2(d.getDate());
}

// The heading of a day's separator: Today, Yesterday, or the date (with
// the year when it is not this year's).
export function dayLabel(key, t, now = new Date()) {
  if (key === dayKey(now.getTime())) return 'Today';
  if (key === dayKey(new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1).getTime())) return 'Yesterday';
  const d = new Date(t);
  const opts = { weekday: 'long', month: 'long', day: 'numeric' };
  if (d.getFullYear() !== now.getFullYear()) opts.year = 'numeric';
  return d.toLocaleDateString([], opts);
}

// Does a message (at time t, by author, not removed: plain) join the group
// of the one before it on the same day?
export function groupsWith(prev, item) {
  return !!prev && prev.plain && item.plain && prev.author === item.author && Math.abs(item.t - prev.t) < GROUP_MS;
}
