// How edits and removals change messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventUpdate, newer, rememberLate, settleLate, updatedState } from '../assets/js/events.js';

const msg = { id: 1, body: 'first', sent_at: '2026-01-01T10:00:00Z' };
const edit = (at, body) => eventUpdate({ kind: 'edit', target: 1, body, edited_at: at });
const removal = (by) => eventUpdate({ kind: 'removal', target: 1, removed_by: by, removed_at: '2026-01-01T10:05:00Z' });

test('an edit applies once, and an older edit never brings back an older text', () => {
  const a = updatedState(msg, edit('2026-01-01T10:01:00Z', 'second'));
  assert.deepEqual([a.body, a.edited_at], ['second', '2026-01-01T10:01:00Z']);
  assert.equal(updatedState(a, edit('2026-01-01T10:01:00Z', 'second')), null);
  assert.equal(updatedState(a, edit('2026-01-01T10:00:30Z', 'stale')), null);
  const b = updatedState(a, edit('2026-01-01T10:02:00Z', 'third'));
  assert.equal(b.body, 'third');
  assert.equal(msg.body, 'first', 'the old state is not changed');
});

test('a removal is final and erases the text', () => {
  const r = updatedState(msg, removal('moderator'));
  assert.deepEqual([r.body, r.removed_by, r.removed_at], ['', 'moderator', '2026-01-01T10:05:00Z']);
  assert.equal(updatedState(r, edit('2026-01-01T10:09:00Z', 'back')), null);
  assert.equal(updatedState(r, removal('author')), null);
  assert.equal(updatedState(msg, removal('anyone')).removed_by, 'author');
});

test('times compare as times, and anything is newer than nothing', () => {
  assert.ok(newer('2026-01-01T10:00:00.5+00:00', '2026-01-01T10:00:00Z'));
  assert.ok(!newer('2026-01-01T11:00:00+02:00', '2026-01-01T10:00:00Z'));
  assert.ok(newer('x', undefined));
  assert.ok(!newer(undefined, 'x'));
});

test('a late event waits for its message, newest kept, bounded', () => {
  const late = new Map();
  rememberLate(late, 1, edit('2026-01-01T10:02:00Z', 'newer'));
  rememberLate(late, 1, edit('2026-01-01T10:01:00Z', 'older'));
  assert.equal(late.get(1).body, 'newer');
  assert.equal(settleLate(late, msg).body, 'newer');
  assert.equal(late.size, 0);
  assert.equal(settleLate(late, msg), msg, 'nothing waiting: the message as it came');

  rememberLate(late, 1, removal('author'));
  rememberLate(late, 1, edit('2026-01-01T10:09:00Z', 'after removal'));
  assert.equal(settleLate(late, msg).body, '');

  for (let id = 1; id <= 5; id++) rememberLate(late, id, edit('2026-01-01T10:01:00Z', 'x'), 3);
  assert.deepEqual(Array.from(late.keys()), [3, 4, 5]);
});
