/* What the page knows, as the server's answers change it: a room's events
 * merged in, messages waiting to be sent, unread counts, who is here, what
 * is mine. No DOM, no requests, no timers: views pass callbacks that show
 * the changes (tests/model.test.js). */

import { backoff, transient } from '../api.js';
import { eventUpdate, isRemoved, rememberLate, settleLate, updatedState } from '../events.js';
import { timeOf } from '../time.js';
import * as unread from '../unread.js';
import { DEFAULT_EDIT_WINDOW_SECS, modToken, PAGE, presence, roomState, roomStates, S, seen } from './state.js';

/* ---------- a room's events ---------- */

function noteAuthor(st, name) {
  if (typeof name !== 'string' || !name || st.authors.has(name)) return;
  st.authors.add(name);
  st.authorsVersion++;
}

// Adds a room's events to it: messages (deduplicated by id; a copy of a
// known message may bring a newer state) and edits and removals, which
// change the message they target. `view` shows each change: settled(p), a
// pending message stored; changed(st, m); added(m). Returns the counts.
export function mergeEvents(st, msgs, view) {
  var added = 0, changed = 0;
  for (var i = 0; i < msgs.length; i++) {
    var m = msgs[i];
    if (!m || typeof m.id !== 'number') continue;
    var kind = m.kind || 'message';
    if (kind === 'edit' || kind === 'removal') {
      if (applyEvent(st, m, view.changed)) changed++;
      continue;
    }
    if (kind === 'reaction' || kind === 'unreaction') {
      if (applyReaction(st, m) && st.msgs.has(m.target)) { view.changed(st, st.msgs.get(m.target)); changed++; }
      continue;
    }
    if (kind !== 'message') continue; // a kind this page does not know: the cursor still moves on
    var p = m.client_id && st.pending.get(m.client_id);
    if (p && p.author === m.author) view.settled(takePending(st, m.client_id));
    if (st.msgs.has(m.id)) {
      if (updateMessage(st, m.id, m, view.changed)) changed++;
      continue;
    }
    m = settleLate(st.late, m);
    st.msgs.set(m.id, m);
    noteAuthor(st, m.author);
    if (!st.minId || m.id < st.minId) st.minId = m.id;
    added++;
    view.added(m);
  }
  if (st.minId === 1) st.atStart = true;
  return { added: added, changed: changed };
}

function applyEvent(st, ev, shown) {
  if (typeof ev.target !== 'number') return false;
  var upd = eventUpdate(ev);
  if (st.msgs.has(ev.target)) return updateMessage(st, ev.target, upd, shown);
  rememberLate(st.late, ev.target, upd);
  return false;
}

/* Reactions: per message, what each person's emoji (session and emoji)
 * last became. The event with the larger id wins, so events applied twice
 * or out of order (a page scrolling back brings the reactions in force when
 * it was read; a poll may have brought a withdrawal since) change nothing.
 * Kept for messages not loaded yet too: they may arrive later. */
function applyReaction(st, ev) {
  if (typeof ev.target !== 'number' || typeof ev.body !== 'string' || !ev.session) return false;
  var per = st.reactions.get(ev.target);
  if (!per) st.reactions.set(ev.target, per = new Map());
  var key = ev.session + ' ' + ev.body, prev = per.get(key);
  if (prev && prev.id >= ev.id) return false;
  per.set(key, { id: ev.id, on: ev.kind === 'reaction', emoji: ev.body, session: ev.session, name: ev.author });
  return true;
}

// A message's reactions in force: { emoji, count, names, mine }, in the
// order each emoji was first added.
export function reactionsOf(st, id) {
  var per = st.reactions.get(id), by = new Map(), own = S.session && S.session.session;
  if (!per) return [];
  Array.from(per.values()).sort(function (a, b) { return a.id - b.id; }).forEach(function (r) {
    if (!r.on) return;
    var e = by.get(r.emoji);
    if (!e) by.set(r.emoji, e = { emoji: r.emoji, count: 0, names: [], mine: false, first: r.id });
    e.count++;
    e.names.push(r.name);
    if (own && r.session === own) e.mine = true;
  });
  return Array.from(by.values());
}

// Gives stored message `id` the state an update brings; true if it changed.
export function updateMessage(st, id, upd, shown) {
  var m = st.msgs.get(id);
  var next = m && updatedState(m, upd);
  if (!next) return false;
  st.msgs.set(next.id, next);
  shown(st, next);
  return true;
}

/* ---------- a poll's answer ---------- */

// The first answer loads a room; less than a page reaches its start.
export function noteLoaded(st, count) {
  if (!st.loaded) {
    st.loaded = true;
    if (count < PAGE) st.atStart = true;
  }
}

// The cursor moves past all the answer read, never back.
export function advanceCursor(st, cursor, msgs) {
  var cur = typeof cursor === 'number' ? cursor : 0;
  for (var i = 0; i < msgs.length; i++) if (msgs[i].id > cur) cur = msgs[i].id;
  if (cur > st.cursor) st.cursor = cur;
}

/* ---------- messages waiting to be sent (same client_id every try) ---------- */

export function newPending(room, clientId, body, author, replyTo) {
  return { client_id: clientId, body: body, room: room, author: author, reply_to: replyTo || null, state: 'sending',
    auto: true, attempts: 0, nextTry: 0, inFlight: false, error: '', el: null, created: Date.now() };
}

// Takes a pending message out of its room; null if it is not there.
export function takePending(st, clientId) {
  var p = st.pending.get(clientId);
  if (!p) return null;
  st.pending.delete(clientId);
  return p;
}

// Those to send again at `now` (all that may, with force), in order.
export function duePending(force, now) {
  var due = [];
  Object.keys(roomStates).forEach(function (id) {
    roomStates[id].pending.forEach(function (p) {
      if (p.state === 'failed' && p.auto && !p.inFlight && (force || p.nextTry <= now)) due.push(p);
    });
  });
  return due;
}

// A try failed with ApiError e: when (and whether) to try by itself again.
export function pendingFailed(p, e, now) {
  p.state = 'failed';
  p.attempts++;
  // Muted: no retry is offered until the mute ends (it cannot succeed);
  // the composer says why, once.
  p.muted = e.code === 'muted';
  p.error = p.muted ? '' : e.message;
  // Sent by itself once it may succeed: a passing failure, or one that
  // joining again fixes (a session signed out, a name an account claimed).
  p.auto = transient(e) || e.status === 401 || e.code === 'name_claimed';
  p.nextTry = now + backoff(p.attempts, e.retryAfter);
}

// Those left unsent (savePending()), back in their rooms as failed.
export function loadPending(saved) {
  if (!Array.isArray(saved)) return;
  saved.forEach(function (s) {
    if (!s || !s.room || !s.client_id || typeof s.body !== 'string') return;
    var p = newPending(s.room, s.client_id, s.body, s.author || (S.session ? S.session.name : ''),
      typeof s.reply_to === 'number' ? s.reply_to : null);
    p.state = 'failed';
    roomState(s.room).pending.set(p.client_id, p);
  });
}

/* ---------- unread counts and presence ---------- */

export function unreadCount(r) {
  var st = roomStates[r.id];
  return unread.unreadCount(r, S.current, seen, st ? st.cursor : 0);
}

// Who is here, each name once; null when that is already shown.
export function setPresent(room, names) {
  var list = [], have = Object.create(null);
  names.forEach(function (n) {
    if (typeof n === 'string' && n && !have[n]) { have[n] = true; list.push(n); }
  });
  var key = room + '\n' + list.join('\n');
  if (presence.shownKey === key) return null;
  presence.shownKey = key;
  presence.names = list;
  return list;
}

/* ---------- mine ----------
 * Ownership (may I edit or remove it?) is by session id only, as the
 * server decides it. The "mine" look falls back to the name where a
 * session id is missing on either side (older messages, older stored
 * sessions), as the page did before session ids existed. */

export function ownsMessage(m) {
  return !!(S.session && S.session.session && m.session && m.session === S.session.session);
}
export function looksMine(m) {
  if (!S.session) return false;
  if (S.session.session && m.session) return m.session === S.session.session;
  return m.author === S.session.name;
}

function editWindowMs() {
  var secs = S.session && typeof S.session.edit_window_secs === 'number' ? S.session.edit_window_secs : DEFAULT_EDIT_WINDOW_SECS;
  return secs * 1000;
}

function canEdit(m) {
  return ownsMessage(m) && !isRemoved(m) && timeOf(m.sent_at) + editWindowMs() > Date.now();
}

export function menuItems(m) {
  if (isRemoved(m)) return [];
  var own = ownsMessage(m), items = [];
  if (S.session) {
    items.push({ action: 'reply', label: 'Reply' });
    items.push({ action: 'react', label: 'Add reaction…' });
  }
  if (canEdit(m)) items.push({ action: 'edit', label: 'Edit' });
  var mod = !!modToken();
  if (own || mod) items.push({ action: 'remove', label: 'Remove' });
  if (mod && !own) items.push({ action: 'mute', label: 'Mute ' + m.author + '…' });
  return items;
}
