// The page's model (js/page/model.js), without a DOM: a poll merged into a
// room, pending sends and their retries, unread counts, presence, and
// what I may do with a message.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  advanceCursor, duePending, loadPending, looksMine, menuItems, mergeEvents, newPending, noteLoaded,
  ownsMessage, pendingFailed, reactionsOf, setPresent, takePending, unreadCount,
} from '../assets/js/page/model.js';
import { markSeen, modToken, PAGE, presence, roomState, roomStates, S, seen } from '../assets/js/page/state.js';

const T0 = '2026-03-01T10:00:00Z';
const msg = (id, author, body, extra) => ({ id, kind: 'message', author, body, sent_at: T0, ...extra });

// A view that writes down what it is told, in order.
function recorder() {
  const log = [];
  return {
    log,
    added: (m) => log.push(['added', m.id]),
    changed: (st, m) => log.push(['changed', st.id, m.id]),
    settled: (p) => log.push(['settled', p.client_id]),
  };
}

beforeEach(() => {
  for (const id of Object.keys(roomStates)) delete roomStates[id];
  for (const id of Object.keys(seen)) delete seen[id];
  S.current = null;
  S.session = null;
  S.adminToken = null;
  presence.shownKey = null;
  presence.names = [];
});

test('a poll adds new messages in the order they come, once each', () => {
  const st = roomState('general');
  const v = recorder();
  const n = mergeEvents(st, [msg(1, 'ann', 'one'), msg(2, 'bob', 'two'), msg(3, 'ann', 'three')], v);
  assert.deepEqual(n, { added: 3, changed: 0 });
  assert.deepEqual(v.log, [['added', 1], ['added', 2], ['added', 3]]);
  assert.deepEqual([...st.msgs.keys()], [1, 2, 3]);
  assert.equal(st.msgs.get(2).body, 'two');
  assert.equal(st.minId, 1);
  assert.equal(st.atStart, true, 'message 1 is the start of the history');
  assert.deepEqual([...st.authors], ['ann', 'bob']);
  assert.equal(st.authorsVersion, 2);

  // The next poll overlaps: 3 again (same state), then 4.
  const again = recorder();
  assert.deepEqual(mergeEvents(st, [msg(3, 'ann', 'three'), msg(4, 'cy', 'four')], again), { added: 1, changed: 0 });
  assert.deepEqual(again.log, [['added', 4]]);
  assert.deepEqual([...st.msgs.keys()], [1, 2, 3, 4]);
  assert.equal(st.msgs.get(3).body, 'three');
});

test('what is not a message with an id adds nothing', () => {
  const st = roomState('general');
  const v = recorder();
  const n = mergeEvents(st, [null, { kind: 'message', body: 'no id' }, { id: 7, kind: 'poll-vote' }, msg(8, 'ann', 'ok')], v);
  assert.deepEqual(n, { added: 1, changed: 0 });
  assert.deepEqual([...st.msgs.keys()], [8]);
  assert.equal(st.atStart, false, 'history before 8 is not loaded');
  // A kind the page does not know still moves the cursor on.
  advanceCursor(st, undefined, [{ id: 7, kind: 'poll-vote' }]);
  assert.equal(st.cursor, 7);
});

test('the cursor moves past everything read, never back', () => {
  const st = roomState('general');
  advanceCursor(st, 10, []);
  assert.equal(st.cursor, 10);
  advanceCursor(st, 3, [{ id: 11 }, { id: 12 }]);
  assert.equal(st.cursor, 12, 'the newest event beats an older cursor');
  advanceCursor(st, 5, []);
  assert.equal(st.cursor, 12);
  advanceCursor(st, 'x', [{ id: 13 }]);
  assert.equal(st.cursor, 13);
});

test('the first answer loads a room; a short one reaches its start', () => {
  const full = roomState('busy');
  noteLoaded(full, PAGE);
  assert.deepEqual([full.loaded, full.atStart], [true, false]);
  noteLoaded(full, 0);
  assert.equal(full.atStart, false, 'only the first answer decides');
  const short = roomState('quiet');
  noteLoaded(short, 3);
  assert.deepEqual([short.loaded, short.atStart], [true, true]);
});

test('edits and removals change the messages they target', () => {
  const st = roomState('general');
  mergeEvents(st, [msg(1, 'ann', 'one'), msg(2, 'bob', 'two')], recorder());
  const v = recorder();
  const n = mergeEvents(st, [
    { id: 3, kind: 'edit', target: 2, body: 'two, better', edited_at: '2026-03-01T10:01:00Z' },
    { id: 4, kind: 'removal', target: 1, removed_by: 'moderator', removed_at: '2026-03-01T10:02:00Z' },
    { id: 5, kind: 'edit', target: 2, body: 'older text', edited_at: '2026-03-01T10:00:30Z' },
    { id: 6, kind: 'edit', target: 1, body: 'back again?', edited_at: '2026-03-01T10:03:00Z' },
  ], v);
  assert.deepEqual(n, { added: 0, changed: 2 });
  assert.deepEqual(v.log, [['changed', 'general', 2], ['changed', 'general', 1]]);
  assert.deepEqual([st.msgs.get(2).body, st.msgs.get(2).edited_at], ['two, better', '2026-03-01T10:01:00Z']);
  const removed = st.msgs.get(1);
  assert.deepEqual([removed.body, removed.removed_by, removed.removed_at], ['', 'moderator', '2026-03-01T10:02:00Z']);
  assert.deepEqual([...st.msgs.keys()], [1, 2], 'events are not messages');

  // A copy of a known message that is newer (read "as it is now") updates it.
  const copy = recorder();
  mergeEvents(st, [msg(2, 'bob', 'two, best', { edited_at: '2026-03-01T10:04:00Z' })], copy);
  assert.equal(st.msgs.get(2).body, 'two, best');
  assert.deepEqual(copy.log, [['changed', 'general', 2]]);
});

test('an edit of a message not loaded yet applies when it arrives', () => {
  const st = roomState('general');
  mergeEvents(st, [msg(10, 'ann', 'ten')], recorder());
  mergeEvents(st, [{ id: 11, kind: 'edit', target: 4, body: 'four, edited', edited_at: '2026-03-01T10:05:00Z' }], recorder());
  assert.equal(st.msgs.has(4), false);
  // A page of older messages, read before the edit was made.
  const v = recorder();
  mergeEvents(st, [msg(4, 'bob', 'four'), msg(5, 'bob', 'five')], v);
  assert.equal(st.msgs.get(4).body, 'four, edited');
  assert.deepEqual(v.log, [['added', 4], ['added', 5]]);
  assert.equal(st.minId, 4);
});

test('a pending message settles when the server echoes its client_id', () => {
  const st = roomState('general');
  const mine = newPending('general', 'c-1', 'hello', 'ann');
  assert.deepEqual([mine.state, mine.auto, mine.attempts, mine.inFlight], ['sending', true, 0, false]);
  st.pending.set('c-1', mine);
  st.pending.set('c-2', newPending('general', 'c-2', 'and more', 'ann'));

  // Someone else's message with the same client_id does not settle mine.
  mergeEvents(st, [msg(1, 'eve', 'hello', { client_id: 'c-1' })], recorder());
  assert.deepEqual([...st.pending.keys()], ['c-1', 'c-2']);

  const v = recorder();
  mergeEvents(st, [msg(2, 'ann', 'hello', { client_id: 'c-1' })], v);
  assert.deepEqual(v.log, [['settled', 'c-1'], ['added', 2]]);
  assert.deepEqual([...st.pending.keys()], ['c-2']);
  assert.equal(st.msgs.get(2).body, 'hello');

  assert.equal(takePending(st, 'c-1'), null, 'already gone');
  assert.equal(takePending(st, 'c-2').body, 'and more');
  assert.equal(st.pending.size, 0);
});

test('a failed send waits, then is tried again; retries keep the order they were written in', () => {
  const now = 1_000_000;
  const general = roomState('general'), random = roomState('random');
  const p = ['a', 'b', 'c', 'd'].map((id) => newPending('general', id, 'text ' + id, 'ann'));
  p.forEach((x) => general.pending.set(x.client_id, x));
  const q = newPending('random', 'e', 'elsewhere', 'ann');
  random.pending.set('e', q);

  // No answer: tried again by itself after a second or so (+-25 %).
  pendingFailed(p[0], { status: 0, message: 'Network error' }, now);
  assert.deepEqual([p[0].state, p[0].auto, p[0].attempts, p[0].error], ['failed', true, 1, 'Network error']);
  assert.ok(p[0].nextTry >= now + 750 && p[0].nextTry <= now + 1250, String(p[0].nextTry - now));
  // Too many messages: not before the server's Retry-After.
  pendingFailed(p[2], { status: 429, message: 'Slow down', retryAfter: 5 }, now);
  assert.deepEqual([p[2].auto, p[2].nextTry], [true, now + 5000]);
  // Refused for good: only by hand.
  pendingFailed(p[1], { status: 400, message: 'Too long' }, now);
  assert.equal(p[1].auto, false);
  // The session expired: sent again once the person has joined again.
  pendingFailed(q, { status: 401, message: 'Expired' }, now);
  assert.equal(q.auto, true);
  // Muted: no retry is offered (it cannot succeed), and the bubble does
  // not repeat what the composer says.
  const m = newPending('general', 'm', 'muted', 'ann');
  pendingFailed(m, { status: 403, code: 'muted', message: 'A moderator has muted you…' }, now);
  assert.deepEqual([m.auto, m.muted, m.error], [false, true, '']);
  // A guest's name an account claimed meanwhile: sent once joined again.
  const c = newPending('general', 'c2', 'claimed', 'ann');
  pendingFailed(c, { status: 403, code: 'name_claimed', message: 'claimed' }, now);
  assert.deepEqual([c.auto, c.muted], [true, false]);
  // d is still being sent.

  const ids = (list) => list.map((x) => x.client_id);
  assert.deepEqual(ids(duePending(false, now)), []);
  assert.deepEqual(ids(duePending(false, now + 1250)), ['a', 'e'], 'room by room, as the rooms were opened');
  assert.deepEqual(ids(duePending(false, now + 5000)), ['a', 'c', 'e']);
  assert.deepEqual(ids(duePending(true, now)), ['a', 'c', 'e'], 'forced: all that may go by themselves, in order');
  p[0].inFlight = true;
  assert.deepEqual(ids(duePending(true, now)), ['c', 'e'], 'not one already being sent');
});

test('messages left unsent come back failed, in order, in their rooms', () => {
  S.session = { name: 'ann', token: 't' };
  loadPending([
    { room: 'general', client_id: 'x', body: 'first', author: 'bob' },
    { room: 'general', client_id: 'y', body: 'second' },
    { room: 'general', body: 'no client id' },
    { room: 'random', client_id: 'z', body: 7 },
    null,
    { room: 'random', client_id: 'w', body: '' },
  ]);
  const g = [...roomState('general').pending.values()];
  assert.deepEqual(g.map((p) => [p.client_id, p.body, p.author, p.state, p.auto]),
    [['x', 'first', 'bob', 'failed', true], ['y', 'second', 'ann', 'failed', true]]);
  assert.deepEqual([...roomState('random').pending.keys()], ['w']);
  loadPending(null);
  loadPending({ not: 'a list' });
  assert.equal(roomState('general').pending.size, 2);
});

test('unread counts: per room, past the later of seen and read', () => {
  S.current = 'general';
  seen.random = 40;
  seen.news = 5;
  const random = { id: 'random', last_message_id: 50 };
  assert.equal(unreadCount(random), 10);
  roomState('random').cursor = 45;
  assert.equal(unreadCount(random), 5);
  assert.equal(unreadCount({ id: 'news', last_message_id: 5 }), 0);
  assert.equal(unreadCount({ id: 'general', last_message_id: 99 }), 0, 'the open room');
  assert.equal(unreadCount({ id: 'empty' }), 0);
  assert.equal(unreadCount({ id: 'unseen', last_message_id: 3 }), 3);

  markSeen('random', 48);
  assert.equal(unreadCount(random), 2);
  markSeen('random', 30);
  assert.equal(seen.random, 48, 'seen never moves back');
});

test('presence: who is here, each name once, shown again only when it changes', () => {
  assert.deepEqual(setPresent('general', ['ann', 'bob', 'ann', '', 7, null, 'cy']), ['ann', 'bob', 'cy']);
  assert.deepEqual(presence.names, ['ann', 'bob', 'cy']);
  assert.equal(setPresent('general', ['ann', 'bob', 'cy', 'bob']), null, 'the same people');
  assert.deepEqual(setPresent('general', ['bob', 'cy']), ['bob', 'cy']);
  assert.deepEqual(setPresent('random', ['bob', 'cy']), ['bob', 'cy'], 'another room');
  assert.deepEqual(setPresent('random', []), []);
  assert.deepEqual(presence.names, []);
});

test('mine: by session id, else by name; the menu offers what I may do', () => {
  const now = new Date().toISOString();
  S.session = { name: 'ann', session: 's1', token: 't', edit_window_secs: 900 };
  const own = { id: 1, author: 'ann', session: 's1', body: 'hi', sent_at: now };
  const old = { id: 2, author: 'ann', session: 's1', body: 'hi', sent_at: '2020-01-01T00:00:00Z' };
  const sameName = { id: 3, author: 'ann', session: 's2', body: 'hi', sent_at: now };
  const legacy = { id: 4, author: 'ann', body: 'hi', sent_at: now };
  const other = { id: 5, author: 'bob', session: 's9', body: 'yo', sent_at: now };
  assert.deepEqual([own, sameName, legacy, other].map(ownsMessage), [true, false, false, false]);
  assert.deepEqual([own, sameName, legacy, other].map(looksMine), [true, false, true, false]);

  // Anyone signed in replies and reacts; only the sender edits.
  const actions = (m) => menuItems(m).map((i) => i.action).filter((a) => a !== 'reply' && a !== 'react');
  assert.deepEqual(menuItems(other).map((i) => i.action), ['reply', 'react']);
  assert.deepEqual(actions(own), ['edit', 'remove']);
  assert.deepEqual(actions(old), ['remove'], 'past the edit window');
  assert.deepEqual(actions(other), []);
  assert.deepEqual(actions({ ...own, removed_at: now, removed_by: 'author' }), []);
  S.adminToken = 'admin';
  assert.deepEqual(menuItems(other).slice(2).map((i) => [i.action, i.label]), [['remove', 'Remove'], ['mute', 'Mute bob…']]);
  // A moderator's own session moderates too (no admin token needed); a
  // member's does not.
  S.adminToken = null;
  const future = new Date(Date.now() + 3600e3).toISOString();
  S.session = { name: 'ann', session: 'account-1', token: 't', role: 'member', expires_at: future };
  assert.deepEqual(actions(other), []);
  S.session = { ...S.session, role: 'moderator' };
  assert.deepEqual(actions(other), ['remove', 'mute']);
  assert.equal(modToken(), 't');
  S.session = null;
  assert.equal(looksMine(own), false);
  assert.deepEqual(menuItems(other), [], 'signed out: nothing to do');
});

const reaction = (id, target, session, author, emoji, on = true) =>
  ({ id, kind: on ? 'reaction' : 'unreaction', target, session, author, body: emoji, sent_at: T0 });

test('reactions: one per person and emoji, counted with who, the latest event winning', () => {
  S.session = { name: 'ann', session: 'sa', token: 't' };
  const st = roomState('general');
  const v = recorder();
  mergeEvents(st, [msg(1, 'bob', 'ship it?')], v);
  const n = mergeEvents(st, [
    reaction(2, 1, 'sb', 'bob', '👍'),
    reaction(3, 1, 'sa', 'ann', '👍'),
    reaction(4, 1, 'sa', 'ann', '🎉'),
    reaction(5, 1, 'sb', 'bob', '👍', false),
  ], v);
  assert.deepEqual(n, { added: 0, changed: 4 }, 'each shows its message again');
  assert.deepEqual(v.log.slice(1), [2, 3, 4, 5].map(() => ['changed', 'general', 1]));
  assert.deepEqual(reactionsOf(st, 1), [
    { emoji: '👍', count: 1, names: ['ann'], mine: true, first: 3 },
    { emoji: '🎉', count: 1, names: ['ann'], mine: true, first: 4 },
  ]);
  // A page scrolling back, read before bob's withdrawal, brings his thumb
  // again: the older event changes nothing.
  assert.deepEqual(mergeEvents(st, [msg(1, 'bob', 'ship it?'), reaction(2, 1, 'sb', 'bob', '👍')], v), { added: 0, changed: 0 });
  assert.equal(reactionsOf(st, 1)[0].count, 1);
  // Reactions to a message not loaded yet are kept for when it comes.
  mergeEvents(st, [reaction(9, 7, 'sb', 'bob', '👀')], v);
  assert.deepEqual(reactionsOf(st, 7).map((r) => [r.emoji, r.count, r.mine]), [['👀', 1, false]]);
  // Malformed events change nothing.
  mergeEvents(st, [{ id: 10, kind: 'reaction', target: 1, body: '👍' }, { id: 11, kind: 'reaction', session: 'x', body: '👍' }], v);
  assert.equal(reactionsOf(st, 1).length, 2);
});

test('a reply waiting to be sent keeps what it answers', () => {
  S.session = { name: 'ann', session: 'sa', token: 't' };
  loadPending([{ room: 'general', client_id: 'c1', body: 'yes', author: 'ann', reply_to: 4 }, { room: 'general', client_id: 'c2', body: 'no', author: 'ann', reply_to: 'x' }]);
  const p = roomState('general').pending;
  assert.deepEqual([p.get('c1').reply_to, p.get('c2').reply_to], [4, null]);
});
