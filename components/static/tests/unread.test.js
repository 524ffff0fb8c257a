// Unread counts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { badge, markSeen, seedSeen, unreadCount } from '../assets/js/unread.js';

test('a room counts what is past the later of seen and read', () => {
  const r = { id: 'random', last_message_id: 50 };
  assert.equal(unreadCount(r, 'general', { random: 40 }, 0), 10);
  assert.equal(unreadCount(r, 'general', { random: 40 }, 45), 5);
  assert.equal(unreadCount(r, 'general', { random: 48 }, 45), 2);
  assert.equal(unreadCount(r, 'general', { random: 60 }, 0), 0);
});

test('the open room and a room without ids count nothing', () => {
  assert.equal(unreadCount({ id: 'general', last_message_id: 50 }, 'general', {}, 0), 0);
  assert.equal(unreadCount({ id: 'new' }, 'general', {}, 0), 0);
});

test('a room seen for the first time starts at its newest id', () => {
  const seen = { general: 3 };
  const rooms = [{ id: 'general', last_message_id: 9 }, { id: 'random', last_message_id: 70 }, { id: 'empty' }];
  assert.ok(seedSeen(seen, rooms));
  assert.deepEqual(seen, { general: 3, random: 70 });
  assert.equal(unreadCount(rooms[1], 'general', seen, 0), 0);
  assert.equal(unreadCount(rooms[0], 'random', seen, 0), 6);
  assert.ok(!seedSeen(seen, rooms), 'nothing new the second time');
  rooms[1].last_message_id = 72;
  assert.equal(unreadCount(rooms[1], 'general', seen, 0), 2);
});

test('seen never moves back', () => {
  const seen = {};
  assert.ok(markSeen(seen, 'general', 5));
  assert.ok(!markSeen(seen, 'general', 4));
  assert.ok(!markSeen(seen, 'general', 5));
  assert.ok(!markSeen(seen, 'general', undefined));
  assert.deepEqual(seen, { general: 5 });
});

test('the badge caps at 99+ and says what it counts', () => {
  assert.deepEqual(badge(1), { text: '1', spoken: ' unread message' });
  assert.deepEqual(badge(99), { text: '99', spoken: ' unread messages' });
  assert.equal(badge(100).text, '99+');
});
