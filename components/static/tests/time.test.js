// Days and grouping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GROUP_MS, dayKey, dayLabel, fmtTime, groupsWith, mutedText, timeOf } from '../assets/js/time.js';

test('days are local days', () => {
  const t = new Date(2026, 0, 31, 23, 59).getTime();
  assert.equal(dayKey(t), '2026-01-31');
  assert.equal(dayKey(t + 60 * 1000), '2026-02-01');
});

test('today and yesterday by name, other days by date', () => {
  const now = new Date(2026, 2, 1, 9, 0);
  const day = (d) => new Date(2026, 2, d, 12, 0).getTime();
  assert.equal(dayLabel(dayKey(day(1)), day(1), now), 'Today');
  assert.equal(dayLabel(dayKey(day(0)), day(0), now), 'Yesterday'); // 28 February
  const older = dayLabel(dayKey(day(-5)), day(-5), now);
  assert.ok(!/Today|Yesterday|2026/.test(older), older);
  const lastYear = new Date(2025, 5, 1).getTime();
  assert.match(dayLabel(dayKey(lastYear), lastYear, now), /2025/);
});

test('one author within five minutes groups; a removal or another author does not', () => {
  const a = { t: 0, author: 'ada', plain: true };
  assert.ok(groupsWith(a, { t: GROUP_MS - 1, author: 'ada', plain: true }));
  assert.ok(!groupsWith(a, { t: GROUP_MS, author: 'ada', plain: true }));
  assert.ok(!groupsWith(a, { t: 1, author: 'bob', plain: true }));
  assert.ok(!groupsWith(a, { t: 1, author: 'ada', plain: false }));
  assert.ok(!groupsWith(null, a));
});

test('a bad time is 0', () => {
  assert.equal(timeOf('nope'), 0);
  assert.equal(timeOf(undefined), 0);
  assert.equal(timeOf('1970-01-01T00:00:01Z'), 1000);
});

test("a mute's end is said in one sentence, in the reader's local time", () => {
  const until = new Date(Date.now() + 10 * 60e3);
  const text = mutedText(until.toISOString());
  assert.match(text, /^A moderator has muted you until /);
  const local = until.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  assert.ok(text.includes(local), text + ' / ' + local);
  assert.ok(!text.includes('Z') && !text.includes('UTC') && !text.includes(until.toISOString().slice(11, 16)) ||
    local === until.toISOString().slice(11, 16), 'not the UTC time: ' + text);
  assert.equal(text.split('. ').length, 2, 'one sentence and what happens then');
  assert.equal(fmtTime(until.getTime()).short, fmtTime(until.toISOString()).short, 'ms or RFC 3339 alike');
});
