/* The chat page: plain JavaScript modules, no dependencies, no build step.
 * This module is the page itself (its state, the DOM, polling, sending,
 * the message menu, editing and the moderation dialogs); the parts without
 * a DOM are modules of their own under js/, unit-tested under Node
 * (components/static/tests):
 *   js/api.js      the HTTP API client, retries and backoff
 *   js/storage.js  localStorage and sessionStorage, the stored session
 *   js/text.js     links and mentions in a message's text
 *   js/unread.js   unread counts
 *   js/events.js   how edits and removals change messages
 *   js/time.js     times, days and grouping
 *
 * Every name and message body is rendered as text (textContent), never as
 * HTML. The session token lives in sessionStorage (localStorage with
 * "remember me") and travels only in the Authorization header, never in
 * the URL; so does a moderator's admin token, which is kept in
 * sessionStorage only.
 *
 * A room's history arrives as events sharing one gapless id sequence:
 * messages, and edits and removals of earlier messages. The page keeps each
 * message in its current state and applies the other events to it; the
 * poll cursor moves over all of them. */

import {
  api, backoff, leave, messagePath, newClientId, pollPath, presencePath, roomPath, transient
} from './js/api.js';
import * as storage from './js/storage.js';
import { ADMIN_KEY, PENDING_KEY, SEEN_KEY, localStore, readJSON, sessionStore, writeJSON } from './js/storage.js';
import { excerpt, mentionsMe, nameProblem, orderNames, segments } from './js/text.js';
import * as unread from './js/unread.js';
import { eventUpdate, isRemoved, rememberLate, settleLate, updatedState } from './js/events.js';
import { dayKey, dayLabel, fmtTime, groupsWith, timeOf } from './js/time.js';

var DEFAULT_ROOM = 'general';
// One request per poll (GET /api/poll): the open room's new messages and
// every room's newest id (for unread counts) come together.
var POLL_MS = 1000;                // while the tab is visible
var HIDDEN_POLL_MS = 10000;        // while it is hidden
var ROOMS_RETRY_MS = 5000;         // the first room list, until it loads
var PAGE = 100;
var OLDER_PAGE = 50;
var MAX_BODY = 2000;
var PRESENCE_MS = 30000;           // "I am here" at most this often; polls list the last minute
var DEFAULT_EDIT_WINDOW_SECS = 900;
var ACTION_STATUS_MS = 20000;      // how long the result of a removal or mute stays shown

function $(id) { return document.getElementById(id); }
var ui = {
  status: $('status'), statusLive: $('status-live'), identity: $('identity'), whoami: $('whoami'),
  changeName: $('change-name'), signOut: $('sign-out'),
  roomList: $('room-list'), roomsError: $('rooms-error'), roomTitle: $('room-title'),
  notice: $('notice'), scroller: $('messages'), loadOlder: $('load-older'),
  historyStart: $('history-start'), empty: $('empty'), list: $('message-list'), jump: $('jump'),
  joinForm: $('join-form'), nameInput: $('name-input'), remember: $('remember'),
  joinButton: $('join-button'), joinCancel: $('join-cancel'), joinError: $('join-error'),
  composer: $('composer'), input: $('message-input'), composerError: $('composer-error'),
  sendButton: $('send-button'),
  // presence, message actions, moderation
  presence: $('presence'), presenceCount: $('presence-count'), presenceEmpty: $('presence-empty'),
  actionStatus: $('action-status'), menu: $('message-menu'),
  settingsButton: $('settings-button'), adminBadge: $('admin-badge'),
  settings: $('settings'), settingsForm: $('settings-form'), adminInput: $('admin-token'),
  settingsClear: $('settings-clear'), settingsClose: $('settings-close'),
  confirm: $('confirm-dialog'), confirmText: $('confirm-text'), confirmQuote: $('confirm-quote'),
  confirmError: $('confirm-error'), confirmOk: $('confirm-ok'), confirmCancel: $('confirm-cancel'),
  mute: $('mute-dialog'), muteForm: $('mute-form'), muteName: $('mute-name'),
  muteDuration: $('mute-duration'), muteScope: $('mute-scope'), muteScopeRoom: $('mute-scope-room'),
  muteError: $('mute-error'), muteConfirm: $('mute-confirm'), muteCancel: $('mute-cancel')
};

var session = storage.loadSession();
var seen = readJSON(localStore(), SEEN_KEY) || {};
var rooms = [];
var roomStates = Object.create(null);
var current = null;
var poll = { timer: null, inFlight: false, again: false, failures: 0, countdown: null, until: 0 };
var roomsTimer = null;

var adminToken = loadAdminToken();
var menu = null;          // the open message menu: { button, room, id }
var editing = null;       // the message being edited: { room, id, draft, busy, error }
var confirmState = null;  // the removal being confirmed
var muteState = null;     // the mute being chosen
var presence = { room: null, timer: null, shownKey: null, names: [] };
var mentionCount = 0;     // mentions of me while the tab was hidden, shown in the title
var notifyAskedFor = null; // the Notification object already asked for permission
var actionTimer = null;

/* ---------- small helpers ---------- */

function make(tag, cls, text) {
  var n = document.createElement(tag);
  if (cls) n.className = cls;
  if (text != null) n.textContent = String(text);
  return n;
}

// Message text with http(s) links made clickable and @mentions marked
// (text.js finds them). Only text nodes, spans and anchors are built here.
function renderBody(el, text) {
  segments(text, knownNames(), session ? session.name : null).forEach(function (s) {
    if (s.kind === 'link') {
      var a = make('a', null, s.text);
      a.href = s.href;
      a.rel = 'noopener noreferrer';
      a.target = '_blank';
      el.appendChild(a);
    } else if (s.kind === 'mention') {
      el.appendChild(make('span', s.me ? 'mention me' : 'mention', s.text));
    } else {
      el.appendChild(document.createTextNode(s.text));
    }
  });
  return el;
}

function isAtBottom() {
  var s = ui.scroller;
  return s.scrollHeight - s.scrollTop - s.clientHeight < 48;
}
function scrollToBottom() {
  ui.scroller.scrollTop = ui.scroller.scrollHeight;
  if (current) roomState(current).newBelow = 0;
  ui.jump.hidden = true;
}

function showNotice(text) {
  ui.notice.textContent = text || '';
  ui.notice.hidden = !text;
}

// The outcome of an action (a removal, a mute, a settings change), in the
// visible live region #action-status; it clears itself after a while.
function announce(text, isError) {
  clearTimeout(actionTimer);
  ui.actionStatus.textContent = text || '';
  ui.actionStatus.classList.toggle('is-error', !!(text && isError));
  if (text) actionTimer = setTimeout(function () { ui.actionStatus.textContent = ''; }, ACTION_STATUS_MS);
}

function updateTitle() {
  var base = current ? roomTitle(current) + ' · Chat' : 'Chat';
  document.title = (mentionCount > 0 ? '(' + mentionCount + ') ' : '') + base;
}

/* ---------- session ---------- */

function setSession(s) {
  session = s;
  storage.saveSession(s);
}

function clearSession() {
  session = null;
  storage.clearSession();
}

function sessionValid() {
  if (!session) return false;
  if (session.expires_at && Date.parse(session.expires_at) <= Date.now()) { clearSession(); return false; }
  return true;
}

function updateIdentity() {
  var joined = !!session;
  ui.identity.hidden = !joined;
  ui.whoami.textContent = joined ? session.name : '';
}

function showJoin(message) {
  ui.joinForm.hidden = false;
  ui.composer.hidden = true;
  ui.joinCancel.hidden = !session;
  if (session && !ui.nameInput.value) ui.nameInput.value = session.name;
  ui.remember.checked = !!(session && session.remember);
  ui.joinError.textContent = message || '';
  ui.joinError.hidden = !message;
  updateIdentity();
  ui.nameInput.focus();
  ui.nameInput.select();
}

function showComposer(focus) {
  ui.joinForm.hidden = true;
  ui.composer.hidden = false;
  ui.joinError.hidden = true;
  updateIdentity();
  if (focus) ui.input.focus();
}


function join(ev) {
  ev.preventDefault();
  var name = ui.nameInput.value.trim();
  var problem = nameProblem(name);
  if (problem) { showJoin(problem); return; }
  ui.joinButton.disabled = true;
  ui.joinError.hidden = true;
  var remember = ui.remember.checked;
  api('POST', '/api/session', { name: name }).then(function (data) {
    // A new name is a new session: the old one leaves the room first.
    if (session) leavePresence(session.token);
    setSession({
      token: data.token, name: data.name || name, expires_at: data.expires_at, remember: remember,
      session: typeof data.session === 'string' && data.session ? data.session : undefined,
      edit_window_secs: typeof data.edit_window_secs === 'number' ? data.edit_window_secs : DEFAULT_EDIT_WINDOW_SECS
    });
    ui.nameInput.value = '';
    showComposer(true);
    rerenderCurrent();
    flushPending(true);
    if (current) enterPresence(current);
  }, function (e) {
    showJoin(e.message || 'Could not join.');
  }).finally(function () { ui.joinButton.disabled = false; });
}

// Which messages are mine. Ownership (may I edit or remove it?) is by
// session id only, as the server decides it. The "mine" look falls back to
// the name where a session id is missing on either side (older messages,
// older stored sessions), as the page did before session ids existed.
function ownsMessage(m) {
  return !!(session && session.session && m.session && m.session === session.session);
}
function looksMine(m) {
  if (!session) return false;
  if (session.session && m.session) return m.session === session.session;
  return m.author === session.name;
}

/* ---------- rooms and unread counts ---------- */

function roomState(id) {
  var st = roomStates[id];
  if (!st) {
    st = roomStates[id] = {
      id: id, msgs: new Map(), minId: 0, cursor: 0, known: 0, loaded: false, atStart: false,
      loadingOlder: false, pending: new Map(), scrollTop: null, atBottom: true, newBelow: 0,
      late: new Map(), authors: new Set(), authorsVersion: 0
    };
  }
  return st;
}

function roomTitle(id) {
  for (var i = 0; i < rooms.length; i++) if (rooms[i].id === id) return rooms[i].title || id;
  return id;
}

function markSeen(roomId, id) {
  if (unread.markSeen(seen, roomId, id)) writeJSON(localStore(), SEEN_KEY, seen);
}

function unreadCount(r) {
  var st = roomStates[r.id];
  return unread.unreadCount(r, current, seen, st ? st.cursor : 0);
}

function scheduleRooms(ms) {
  clearTimeout(roomsTimer);
  roomsTimer = setTimeout(loadRooms, ms);
}

// The room list, from GET /api/rooms at start and then from every poll.
function setRooms(list) {
  if (!Array.isArray(list)) return;
  rooms = list;
  if (unread.seedSeen(seen, list)) writeJSON(localStore(), SEEN_KEY, seen);
  ui.roomsError.hidden = true;
  renderRooms();
}

// Once at start, so the list shows before the first poll; polls keep it
// current after that.
function loadRooms() {
  roomsTimer = null;
  api('GET', '/api/rooms').then(function (data) {
    if (!rooms.length) setRooms(data.rooms);
  }, function (e) {
    if (rooms.length) return;
    ui.roomsError.textContent = 'Could not load rooms (' + e.message + '). Retrying…';
    ui.roomsError.hidden = false;
    scheduleRooms(Math.max(ROOMS_RETRY_MS, (e.retryAfter || 0) * 1000));
  });
}

function renderRooms() {
  var frag = document.createDocumentFragment();
  var list = rooms.slice();
  if (current && !list.some(function (r) { return r.id === current; })) list.push({ id: current, title: current });
  list.forEach(function (r) {
    var li = make('li', 'room');
    li.setAttribute('data-room', r.id);
    var a = make('a', null);
    a.href = '#/room/' + encodeURIComponent(r.id);
    a.appendChild(make('span', 'hash', '#'));
    a.appendChild(make('span', 'room-name', r.title || r.id));
    var n = unreadCount(r);
    if (n > 0) {
      li.classList.add('unread');
      var b = unread.badge(n);
      a.appendChild(make('span', 'badge', b.text));
      a.appendChild(make('span', 'visually-hidden', b.spoken));
    }
    if (r.id === current) { li.classList.add('active'); a.setAttribute('aria-current', 'page'); }
    li.appendChild(a);
    frag.appendChild(li);
  });
  var focused = ui.roomList.contains(document.activeElement) && document.activeElement.closest('li');
  var focusedRoom = focused ? focused.getAttribute('data-room') : null;
  ui.roomList.textContent = '';
  ui.roomList.appendChild(frag);
  if (focusedRoom != null) {
    var again = ui.roomList.querySelector('li[data-room="' + CSS.escape(focusedRoom) + '"] a');
    if (again) again.focus();
  }
  ui.roomTitle.textContent = current ? '#' + roomTitle(current) : '';
  if (current) updateTitle();
}

function roomFromHash() {
  var m = /^#\/room\/([^/?#]+)$/.exec(location.hash || '');
  if (!m) return null;
  try { return decodeURIComponent(m[1]); } catch (e) { return null; }
}

function onHashChange() {
  var id = roomFromHash();
  if (!id) {
    id = current || DEFAULT_ROOM;
    history.replaceState(null, '', '#/room/' + encodeURIComponent(id));
  }
  switchRoom(id);
}

function switchRoom(id) {
  if (id === current) return;
  if (current) {
    var prev = roomState(current);
    prev.atBottom = isAtBottom();
    prev.scrollTop = ui.scroller.scrollTop;
  }
  closeMenu(false);
  current = id;
  showNotice('');
  clearPresent();
  renderRooms();
  renderRoom();
  // Leave the room we were in, say we are in this one.
  if (presence.room && presence.room !== id) leavePresence(session && session.token);
  enterPresence(id);
  if (poll.failures === 0) schedulePoll(0);
}

/* ---------- messages ---------- */

function messageEl(m) {
  var li = make('li', 'message');
  li.setAttribute('data-id', String(m.id));
  li.setAttribute('data-author', String(m.author));
  li.setAttribute('data-time', String(timeOf(m.sent_at)));
  if (m.client_id) li.setAttribute('data-client-id', m.client_id);
  if (isRemoved(m)) {
    // A placeholder only: the text is erased on the server too. Focusable
    // from script, for after removing it from its menu.
    li.classList.add('removed');
    li.tabIndex = -1;
    li.appendChild(make('span', 'placeholder',
      m.removed_by === 'moderator' ? 'Removed by a moderator' : 'Message removed'));
    return li;
  }
  var mine = looksMine(m);
  if (mine) li.classList.add('mine');
  var meta = make('div', 'meta');
  meta.appendChild(make('span', 'author', m.author));
  var t = fmtTime(m.sent_at);
  var time = make('time', 'time', t.short);
  time.setAttribute('datetime', m.sent_at || '');
  time.title = t.full;
  meta.appendChild(time);
  if (m.edited_at) {
    var edited = make('span', 'edited', 'edited');
    edited.title = fmtTime(m.edited_at).full;
    meta.appendChild(edited);
  }
  li.appendChild(meta);
  var body = renderBody(make('div', 'body'), String(m.body));
  li.appendChild(body);
  if (!mine && body.querySelector('.mention.me')) li.classList.add('mentions-me');
  if (editing && editing.room === current && editing.id === m.id) attachEditor(li, body);
  else if (menuItems(m).length) { li.classList.add('has-menu'); li.appendChild(menuButton(m)); }
  return li;
}

function pendingEl(p) {
  var li = make('li', 'message pending mine');
  li.setAttribute('data-client-id', p.client_id);
  li.setAttribute('data-author', String(p.author));
  li.setAttribute('data-time', String(p.created));
  var meta = make('div', 'meta');
  meta.appendChild(make('span', 'author', p.author));
  meta.appendChild(make('span', 'state'));
  li.appendChild(meta);
  li.appendChild(renderBody(make('div', 'body'), p.body));
  p.el = li;
  updatePendingEl(p);
  return li;
}

function updatePendingEl(p) {
  var li = p.el;
  if (!li) return;
  var state = li.querySelector('.state');
  state.textContent = '';
  li.classList.toggle('failed', p.state === 'failed');
  if (p.state !== 'failed') { state.textContent = 'sending…'; return; }
  state.appendChild(document.createTextNode(p.auto ?
    'not sent yet, will retry automatically · ' : 'not sent' + (p.error ? ' (' + p.error + ')' : '') + ' · '));
  var retry = make('button', 'retry link-button', 'retry');
  retry.type = 'button';
  retry.title = p.error ? 'Error: ' + p.error : 'Retry sending';
  retry.addEventListener('click', function () { retryPending(p); });
  state.appendChild(retry);
  if (!p.auto) {
    state.appendChild(document.createTextNode(' · '));
    var drop = make('button', 'discard link-button', 'discard');
    drop.type = 'button';
    drop.addEventListener('click', function () { removePending(roomState(p.room), p.client_id); updateRoomChrome(); });
    state.appendChild(drop);
  }
}

function firstPendingEl() { return ui.list.querySelector('li.pending'); }

function liFor(id) { return ui.list.querySelector('li.message[data-id="' + Number(id) + '"]'); }

// Puts a stored message's element in id order, before the pending ones;
// date separators are skipped (relayout() puts them back where they go).
// True when nothing stored comes after it (it went in at the bottom).
function insertMessageEl(li, id) {
  var fp = firstPendingEl();
  var node = fp ? fp.previousElementSibling : ui.list.lastElementChild;
  while (node && (!node.classList.contains('message') || Number(node.getAttribute('data-id')) > id)) {
    node = node.previousElementSibling;
  }
  ui.list.insertBefore(li, node ? node.nextElementSibling : ui.list.firstElementChild);
  var next = li.nextElementSibling;
  while (next && !next.classList.contains('message')) next = next.nextElementSibling;
  return !next || next.classList.contains('pending');
}

function savePending() {
  var all = [];
  Object.keys(roomStates).forEach(function (id) {
    roomStates[id].pending.forEach(function (p) {
      all.push({ room: p.room, client_id: p.client_id, body: p.body, author: p.author });
    });
  });
  writeJSON(sessionStore(), PENDING_KEY, all.length ? all : null);
}

function removePending(st, clientId) {
  var p = st.pending.get(clientId);
  if (!p) return;
  st.pending.delete(clientId);
  if (p.el && p.el.parentNode) p.el.parentNode.removeChild(p.el);
  p.el = null;
  savePending();
}

function noteAuthor(st, name) {
  if (typeof name !== 'string' || !name || st.authors.has(name)) return;
  st.authors.add(name);
  st.authorsVersion++;
}

// Adds a room's events to it: messages (deduplicated by id; a copy of a
// known message may bring a newer state) and edits and removals, which
// change the message they target. Shown at once when the room is open.
// opts.older: a page of history; opts.live: new events from a poll.
function addMessages(roomId, msgs, opts) {
  var st = roomState(roomId);
  var visible = roomId === current;
  var older = !!(opts && opts.older);
  var live = !!(opts && opts.live) && !older;
  var follow = visible && !older && isAtBottom();
  var added = 0, below = 0, changed = 0;
  for (var i = 0; i < msgs.length; i++) {
    var m = msgs[i];
    if (!m || typeof m.id !== 'number') continue;
    var kind = m.kind || 'message';
    if (kind === 'edit' || kind === 'removal') {
      if (applyEvent(st, m)) changed++;
      continue;
    }
    if (kind !== 'message') continue; // a kind this page does not know: the cursor still moves on
    var p = m.client_id && st.pending.get(m.client_id);
    if (p && p.author === m.author) removePending(st, m.client_id);
    if (st.msgs.has(m.id)) {
      if (applyUpdate(st, m.id, m)) changed++;
      continue;
    }
    m = settleLate(st.late, m);
    st.msgs.set(m.id, m);
    noteAuthor(st, m.author);
    if (!st.minId || m.id < st.minId) st.minId = m.id;
    added++;
    if (visible && insertMessageEl(messageEl(m), m.id) && !older) below++;
    if (live) noteMention(roomId, m);
  }
  if (st.minId === 1) st.atStart = true;
  if (visible) {
    updateRoomChrome();
    if (follow && (added || changed)) scrollToBottom();
    else if (below && !older) {
      st.newBelow += below;
      ui.jump.textContent = st.newBelow + (st.newBelow === 1 ? ' new message ↓' : ' new messages ↓');
      ui.jump.hidden = false;
    }
  }
  return added;
}

function renderRoom() {
  var st = roomState(current);
  closeMenu(false);
  var frag = document.createDocumentFragment();
  var ids = Array.from(st.msgs.keys()).sort(function (a, b) { return a - b; });
  ids.forEach(function (id) { frag.appendChild(messageEl(st.msgs.get(id))); });
  st.pending.forEach(function (p) { frag.appendChild(pendingEl(p)); });
  ui.list.textContent = '';
  ui.list.appendChild(frag);
  ui.input.placeholder = 'Message #' + roomTitle(current);
  updateRoomChrome();
  if (st.atBottom || st.scrollTop == null) scrollToBottom();
  else ui.scroller.scrollTop = st.scrollTop;
  ui.jump.hidden = !st.newBelow;
}

function rerenderCurrent() {
  if (!current) return;
  var st = roomState(current);
  st.atBottom = isAtBottom();
  st.scrollTop = ui.scroller.scrollTop;
  renderRoom();
}

function updateRoomChrome() {
  var st = roomState(current);
  var count = st.msgs.size + st.pending.size;
  relayout();
  ui.empty.textContent = st.loaded ? 'No messages yet. Say hi!' : 'Loading…';
  ui.empty.hidden = count > 0;
  ui.loadOlder.hidden = !(st.loaded && !st.atStart && st.msgs.size > 0);
  ui.loadOlder.disabled = st.loadingOlder;
  ui.loadOlder.textContent = st.loadingOlder ? 'Loading…' : 'Load older messages';
  ui.historyStart.hidden = !(st.loaded && st.atStart && st.msgs.size > 0);
}

function loadOlder() {
  var roomId = current;
  var st = roomState(roomId);
  if (!st.loaded || st.loadingOlder || st.atStart) return;
  if (!st.minId) { st.atStart = true; updateRoomChrome(); return; }
  st.loadingOlder = true;
  updateRoomChrome();
  api('GET', roomPath(roomId) + '?before=' + st.minId + '&limit=' + OLDER_PAGE).then(function (data) {
    var msgs = Array.isArray(data.messages) ? data.messages : [];
    if (msgs.length < OLDER_PAGE) st.atStart = true;
    st.loadingOlder = false;
    if (roomId === current) {
      // Keep what the reader looks at in place: the message that was first
      // stays where it was on screen. (Measured on that message, not on the
      // added height: it may join the group of the older ones above and
      // lose its name line, and the day's separator moves up.)
      var s = ui.scroller;
      var anchor = ui.list.querySelector('li.message');
      var anchorTop = anchor ? anchor.getBoundingClientRect().top : 0;
      var h = s.scrollHeight, top = s.scrollTop;
      addMessages(roomId, msgs, { older: true });
      if (anchor && anchor.isConnected) s.scrollTop = top + (anchor.getBoundingClientRect().top - anchorTop);
      else s.scrollTop = top + (s.scrollHeight - h);
    } else {
      addMessages(roomId, msgs, { older: true });
    }
  }, function (e) {
    st.loadingOlder = false;
    if (roomId === current) showNotice('Could not load older messages: ' + e.message);
  }).finally(function () {
    if (roomId === current) updateRoomChrome();
  });
}

/* ---------- edits and removals: applying events (events.js) ---------- */

function applyEvent(st, ev) {
  if (typeof ev.target !== 'number') return false;
  var upd = eventUpdate(ev);
  if (st.msgs.has(ev.target)) return applyUpdate(st, ev.target, upd);
  rememberLate(st.late, ev.target, upd);
  return false;
}

function applyUpdate(st, id, upd) {
  var m = st.msgs.get(id);
  var next = m && updatedState(m, upd);
  if (!next) return false;
  setMessage(st, next);
  return true;
}

// Stores a message's new state, and shows it when its room is open. An
// open editor for it stays (it shows the new state when it closes),
// unless the message was removed.
function setMessage(st, m) {
  st.msgs.set(m.id, m);
  if (st.id !== current) return;
  if (editing && editing.room === st.id && editing.id === m.id) {
    if (!isRemoved(m)) return;
    editing = null;
    announce('The message you were editing was removed.');
  }
  refreshMessageEl(m);
}

// Replaces a shown message's element; focus inside it (or in its open
// menu) moves to the same place in the new one.
function refreshMessageEl(m) {
  var old = liFor(m.id);
  if (!old) return;
  var hadFocus = old.contains(document.activeElement);
  if (menu && menu.id === m.id) {
    if (ui.menu.contains(document.activeElement)) hadFocus = true;
    closeMenu(false);
  }
  var li = messageEl(m);
  if (old.classList.contains('grouped')) li.classList.add('grouped');
  old.parentNode.replaceChild(li, old);
  if (hadFocus) focusMessage(li);
}

function focusMessage(li) {
  var target = li.querySelector('textarea.edit-body') || li.querySelector('button.message-menu');
  if (!target) { li.tabIndex = -1; target = li; }
  target.focus();
}

/* ---------- day separators and grouping ----------
 * Recomputed over the whole list after each change; it is a cheap walk
 * that touches the DOM only where something differs. Before the first
 * message of each local day: li.date-separator holding a heading (screen
 * reader users can jump between days by heading). A message that follows
 * one of the same author within five minutes gets the class "grouped":
 * CSS hides its repeated name and time visually, not from screen readers. */


function separatorEl(key) {
  var li = make('li', 'date-separator');
  li.setAttribute('data-day', key);
  li.appendChild(make('h3', 'date-label'));
  return li;
}

function relayout() {
  var list = ui.list;
  var kids = Array.prototype.slice.call(list.children);
  var spare = new Map(), used = new Set();
  kids.forEach(function (el) {
    var key = el.getAttribute('data-day');
    if (el.classList.contains('date-separator') && !spare.has(key)) spare.set(key, el);
  });
  var prev = null;
  kids.forEach(function (el) {
    if (!el.classList.contains('message')) return;
    var t = Number(el.getAttribute('data-time')) || (prev ? prev.t : Date.now());
    var item = { t: t, day: dayKey(t), author: el.getAttribute('data-author'), plain: !el.classList.contains('removed') };
    var grouped = false;
    if (!prev || prev.day !== item.day) {
      var sep = spare.get(item.day);
      if (!sep || used.has(sep)) sep = separatorEl(item.day);
      used.add(sep);
      if (el.previousElementSibling !== sep) list.insertBefore(sep, el);
      var label = dayLabel(item.day, t);
      if (sep.firstElementChild.textContent !== label) sep.firstElementChild.textContent = label;
    } else {
      grouped = groupsWith(prev, item);
    }
    if (el.classList.contains('grouped') !== grouped) el.classList.toggle('grouped', grouped);
    prev = item;
  });
  kids.forEach(function (el) {
    if (el.classList.contains('date-separator') && !used.has(el) && el.parentNode === list) list.removeChild(el);
  });
}

/* ---------- mentions ----------
 * "@name" in a body is shown as span.mention, a mention of one's own name
 * as span.mention.me (text.js finds them). The names tried first are the
 * ones the page knows: one's own, the open room's authors, the people here
 * now. */

var namesCache = { key: null, list: [] };

function knownNames() {
  var st = current ? roomStates[current] : null;
  var own = session ? session.name : '';
  var key = [own, current || '', st ? st.authorsVersion : 0, presence.shownKey || ''].join('\u0000');
  if (namesCache.key === key) return namesCache.list;
  var list = orderNames([own].concat(st ? Array.from(st.authors) : [], presence.names));
  namesCache = { key: key, list: list };
  return list;
}


/* ---------- notifications of mentions ----------
 * Only for a new message from someone else that mentions me while the tab
 * is hidden: a count in the tab title (cleared when the tab is shown
 * again) and, if the person allowed it, a system notification. Permission
 * is asked only after a click (on Join or Send), never on load: browsers
 * ignore or penalise prompts without a user gesture. window.Notification
 * is read at the moment of use. */

function noteMention(roomId, m) {
  if (!session || looksMine(m) || m.author === session.name) return;
  if (document.visibilityState !== 'hidden' || !mentionsMe(m.body, knownNames(), session.name)) return;
  mentionCount++;
  updateTitle();
  notifyMention(roomId, m);
}

function notifyMention(roomId, m) {
  var N = window.Notification;
  if (!N || N.permission !== 'granted') return;
  try {
    var n = new N(m.author + ' mentioned you in #' + roomTitle(roomId),
      { body: excerpt(m.body, 200), tag: 'chat-mention-' + roomId + '-' + m.id });
    if (n) {
      n.onclick = function () {
        try { window.focus(); } catch (e) { /* not allowed here */ }
        location.hash = '#/room/' + encodeURIComponent(roomId);
        if (typeof n.close === 'function') n.close();
      };
    }
  } catch (e) { /* e.g. where only a service worker may show notifications */ }
}

function askNotificationPermission() {
  var N = window.Notification;
  if (!N || N === notifyAskedFor || N.permission !== 'default' || typeof N.requestPermission !== 'function') return;
  notifyAskedFor = N;
  try {
    var r = N.requestPermission();
    if (r && typeof r.then === 'function') r.then(null, function () {});
  } catch (e) { /* an old callback-only API: nothing to wait for */ }
}

/* ---------- presence ("Here now") ----------
 * While a room is open and the person is signed in, the page says so
 * (PUT .../presence) when it opens the room and then every 30 s, visible
 * or not, and says it left (DELETE, keepalive so it survives the page
 * going away) when it switches rooms, signs out or is hidden for good
 * (pagehide). Who is here comes with every poll. */

function enterPresence(room) {
  clearTimeout(presence.timer);
  presence.timer = null;
  if (!room || !sessionValid()) { presence.room = null; return; }
  presence.room = room;
  api('PUT', presencePath(room), undefined, session.token).then(function (data) {
    if (room === current && data && Array.isArray(data.present)) showPresent(room, data.present);
  }, function () { /* best effort: the next beat tries again */ });
  presence.timer = setTimeout(function () {
    if (presence.room === room && room === current) enterPresence(room);
  }, PRESENCE_MS);
}

function leavePresence(token) {
  var room = presence.room;
  clearTimeout(presence.timer);
  presence.timer = null;
  presence.room = null;
  if (room && token) leave(presencePath(room), token);
}

function showPresent(room, names) {
  if (room !== current) return;
  var list = [], have = Object.create(null);
  names.forEach(function (n) {
    if (typeof n === 'string' && n && !have[n]) { have[n] = true; list.push(n); }
  });
  var key = room + '\n' + list.join('\n');
  if (presence.shownKey === key) return;
  presence.shownKey = key;
  presence.names = list;
  var frag = document.createDocumentFragment();
  list.forEach(function (n) { frag.appendChild(make('li', session && n === session.name ? 'me' : null, n)); });
  ui.presence.textContent = '';
  ui.presence.appendChild(frag);
  ui.presenceCount.textContent = list.length === 1 ? ', 1 person' : ', ' + list.length + ' people';
  ui.presenceEmpty.hidden = list.length > 0;
}

function clearPresent() {
  presence.shownKey = null;
  presence.names = [];
  ui.presence.textContent = '';
  ui.presenceCount.textContent = '';
  ui.presenceEmpty.hidden = true;
}

/* ---------- the message menu ----------
 * One menu element, #message-menu, kept outside the live message list (so
 * opening it is not announced as a new message) and placed next to the
 * button of the message it acts on. Keyboard as in the WAI-ARIA menu
 * button pattern: Enter/Space/ArrowDown open it on the first item, ArrowUp
 * on the last; arrows, Home and End move; Escape (and Tab) close it and
 * return to the button. Built when opened, so "Edit" shows only while the
 * edit window is open. */

function loadAdminToken() {
  var t = readJSON(sessionStore(), ADMIN_KEY);
  return typeof t === 'string' && t ? t : null;
}

function editWindowMs() {
  var secs = session && typeof session.edit_window_secs === 'number' ? session.edit_window_secs : DEFAULT_EDIT_WINDOW_SECS;
  return secs * 1000;
}

function canEdit(m) {
  return ownsMessage(m) && !isRemoved(m) && timeOf(m.sent_at) + editWindowMs() > Date.now();
}

function menuItems(m) {
  if (isRemoved(m)) return [];
  var own = ownsMessage(m), items = [];
  if (canEdit(m)) items.push({ action: 'edit', label: 'Edit' });
  if (own || adminToken) items.push({ action: 'remove', label: 'Remove' });
  if (adminToken && !own) items.push({ action: 'mute', label: 'Mute ' + m.author + '…' });
  return items;
}

function menuButton(m) {
  var b = make('button', 'message-menu');
  b.type = 'button';
  b.setAttribute('aria-haspopup', 'menu');
  b.setAttribute('aria-expanded', 'false');
  b.setAttribute('aria-label', 'Actions for message from ' + m.author);
  var icon = make('span', null, '⋯');
  icon.setAttribute('aria-hidden', 'true');
  b.appendChild(icon);
  b.addEventListener('click', function () {
    if (menu && menu.button === b) closeMenu(true); else openMenu(b, 'first');
  });
  b.addEventListener('keydown', function (ev) {
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      ev.preventDefault();
      openMenu(b, ev.key === 'ArrowUp' ? 'last' : 'first');
    }
  });
  return b;
}

function menuEntries() { return Array.prototype.slice.call(ui.menu.querySelectorAll('[role="menuitem"]')); }

function openMenu(button, which) {
  var li = button.closest('li.message');
  var m = li && current ? roomState(current).msgs.get(Number(li.getAttribute('data-id'))) : null;
  closeMenu(false);
  var items = m ? menuItems(m) : [];
  if (!items.length) return;
  ui.menu.textContent = '';
  items.forEach(function (it) {
    var item = make('button', 'menu-item' + (it.action === 'remove' ? ' danger' : ''), it.label);
    item.type = 'button';
    item.tabIndex = -1;
    item.setAttribute('role', 'menuitem');
    item.setAttribute('data-action', it.action);
    ui.menu.appendChild(item);
  });
  ui.menu.setAttribute('aria-label', 'Actions for message from ' + m.author);
  ui.menu.hidden = false;
  menu = { button: button, room: current, id: m.id };
  button.setAttribute('aria-expanded', 'true');
  button.setAttribute('aria-controls', 'message-menu');
  li.classList.add('menu-open');
  positionMenu();
  var all = menuEntries();
  if (menu) (which === 'last' ? all[all.length - 1] : all[0]).focus();
}

function closeMenu(returnFocus) {
  if (!menu) return;
  var b = menu.button;
  menu = null;
  ui.menu.hidden = true;
  ui.menu.textContent = '';
  b.setAttribute('aria-expanded', 'false');
  b.removeAttribute('aria-controls');
  var li = b.closest('li');
  if (li) li.classList.remove('menu-open');
  if (returnFocus && b.isConnected) b.focus();
}

// Next to its button, below it (above when there is no room below);
// closed when the button scrolls out of sight.
function positionMenu() {
  if (!menu) return;
  var b = menu.button;
  if (!b.isConnected) { closeMenu(false); return; }
  var stage = ui.menu.parentNode.getBoundingClientRect();
  var view = ui.scroller.getBoundingClientRect();
  var r = b.getBoundingClientRect();
  if (r.bottom < view.top || r.top > view.bottom) {
    var focused = ui.menu.contains(document.activeElement);
    closeMenu(false);
    if (focused) b.focus({ preventScroll: true });
    return;
  }
  var h = ui.menu.offsetHeight;
  var top = r.bottom - stage.top + 4;
  if (top + h > stage.height && r.top - stage.top - h - 4 >= 0) top = r.top - stage.top - h - 4;
  ui.menu.style.top = Math.round(top) + 'px';
  ui.menu.style.right = Math.max(4, Math.round(stage.right - r.right)) + 'px';
}

function onMenuKey(ev) {
  if (!menu) return;
  var all = menuEntries(), i = all.indexOf(document.activeElement), to = null;
  switch (ev.key) {
    case 'ArrowDown': to = all[(i + 1) % all.length]; break;
    case 'ArrowUp': to = all[i <= 0 ? all.length - 1 : i - 1]; break;
    case 'Home': to = all[0]; break;
    case 'End': to = all[all.length - 1]; break;
    case 'Escape': case 'Tab': ev.preventDefault(); closeMenu(true); return;
    default: return;
  }
  ev.preventDefault();
  if (to) to.focus();
}

function onMenuClick(ev) {
  var item = ev.target.closest('[data-action]');
  if (!item || !menu) return;
  var action = item.getAttribute('data-action'), at = menu;
  closeMenu(false);
  var m = roomState(at.room).msgs.get(at.id);
  if (!m || isRemoved(m)) { if (at.button.isConnected) at.button.focus(); return; }
  if (action === 'edit') startEdit(at.room, m);
  else if (action === 'remove') askRemove(at.room, m, at.button);
  else if (action === 'mute') openMute(at.room, m, at.button);
}

/* ---------- editing one's own message ----------
 * In place: the body gives way to a textarea.edit-body (the .body stays in
 * the element, hidden, so the message still reads the same to anything
 * that inspects it). Enter saves, Shift+Enter is a new line, Escape
 * cancels. The server decides whether the edit window is still open (and
 * whether the person is muted); its refusal is shown next to the editor. */

function startEdit(room, m) {
  if (editing) stopEdit(false);
  editing = { room: room, id: m.id, draft: String(m.body), busy: false, error: '' };
  refreshMessageEl(m);
  var li = liFor(m.id);
  var area = li && li.querySelector('textarea.edit-body');
  if (!area) return;
  area.focus();
  area.setSelectionRange(area.value.length, area.value.length);
  sizeEditor(area);
}

function attachEditor(li, body) {
  var ed = editing;
  li.classList.add('editing');
  body.hidden = true;
  var box = make('div', 'edit');
  var areaId = 'edit-' + ed.id, hintId = areaId + '-hint';
  var label = make('label', 'visually-hidden', 'Edit your message');
  label.htmlFor = areaId;
  var area = make('textarea', 'edit-body');
  area.id = areaId;
  area.rows = 2;
  area.value = ed.draft;
  area.readOnly = ed.busy;
  area.setAttribute('aria-describedby', hintId);
  var hint = make('p', 'hint', 'Enter saves, Shift+Enter adds a new line, Escape cancels.');
  hint.id = hintId;
  var actions = make('div', 'edit-actions');
  var save = make('button', 'primary', ed.busy ? 'Saving…' : 'Save');
  save.type = 'button';
  save.setAttribute('data-action', 'save-edit');
  save.disabled = ed.busy;
  var cancel = make('button', 'secondary', 'Cancel');
  cancel.type = 'button';
  cancel.setAttribute('data-action', 'cancel-edit');
  cancel.disabled = ed.busy;
  var error = make('p', 'edit-error error', ed.error);
  error.setAttribute('role', 'alert');
  error.hidden = !ed.error;

  area.addEventListener('input', function () {
    ed.draft = area.value;
    sizeEditor(area);
    if (ed.error) showEditError(ed, '');
  });
  area.addEventListener('keydown', function (ev) {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
      ev.preventDefault();
      saveEdit();
    } else if (ev.key === 'Escape') {
      ev.preventDefault();
      ev.stopPropagation();
      stopEdit(true);
    }
  });
  save.addEventListener('click', saveEdit);
  cancel.addEventListener('click', function () { stopEdit(true); });

  actions.appendChild(save);
  actions.appendChild(cancel);
  box.appendChild(label);
  box.appendChild(area);
  box.appendChild(hint);
  box.appendChild(actions);
  box.appendChild(error);
  li.appendChild(box);
}

function sizeEditor(area) {
  area.style.height = 'auto';
  area.style.height = Math.min(area.scrollHeight + 2, 240) + 'px';
}

function showEditError(ed, text) {
  ed.error = text || '';
  var li = ed.room === current ? liFor(ed.id) : null;
  var el = li && li.querySelector('.edit-error');
  if (!el) return;
  el.textContent = ed.error;
  el.hidden = !ed.error;
}

function setEditorBusy(ed, busy) {
  var li = ed.room === current ? liFor(ed.id) : null;
  if (!li) return;
  var area = li.querySelector('textarea.edit-body');
  var save = li.querySelector('[data-action="save-edit"]');
  var cancel = li.querySelector('[data-action="cancel-edit"]');
  if (area) area.readOnly = busy;
  if (save) { save.disabled = busy; save.textContent = busy ? 'Saving…' : 'Save'; }
  if (cancel) cancel.disabled = busy;
}

// Leaves the editor, showing the message as it is now.
function stopEdit(focus) {
  var ed = editing;
  if (!ed || ed.busy) return;
  editing = null;
  var m = roomState(ed.room).msgs.get(ed.id);
  if (!m || ed.room !== current) return;
  refreshMessageEl(m);
  if (focus) { var li = liFor(ed.id); if (li) focusMessage(li); }
  updateRoomChrome();
}

function saveEdit() {
  var ed = editing;
  if (!ed || ed.busy) return;
  var st = roomState(ed.room), m = st.msgs.get(ed.id);
  if (!m || isRemoved(m)) { editing = null; if (m) refreshMessageEl(m); return; }
  var text = ed.draft.trim();
  var n = Array.from(text).length;
  if (!text) { showEditError(ed, 'A message cannot be empty. To take it back, use Remove instead.'); return; }
  if (n > MAX_BODY) { showEditError(ed, 'Messages can be at most ' + MAX_BODY + ' characters (this one has ' + n + ').'); return; }
  if (text === m.body) { stopEdit(true); return; }
  if (!sessionValid()) { showEditError(ed, 'Your session expired. Join again to edit your messages.'); updateIdentity(); return; }
  ed.busy = true;
  showEditError(ed, '');
  setEditorBusy(ed, true);
  api('PATCH', messagePath(ed.room, ed.id), { body: text }, session.token).then(function (data) {
    ed.busy = false;
    if (editing === ed) editing = null;
    var now = st.msgs.get(ed.id);
    if (!now) return;
    var reply = data && data.message;
    var next = reply && reply.id === ed.id ? updatedState(now, reply) : null;
    if (!next && !isRemoved(now) && now.body !== text) {
      next = Object.assign({}, now, { body: text, edited_at: (reply && reply.edited_at) || new Date().toISOString() });
    }
    if (next) st.msgs.set(ed.id, next);
    if (ed.room !== current) return;
    var keepFocus = !document.activeElement || document.activeElement === document.body ||
      (liFor(ed.id) && liFor(ed.id).contains(document.activeElement));
    refreshMessageEl(next || now);
    var li = liFor(ed.id);
    if (li && keepFocus) focusMessage(li);
    updateRoomChrome();
  }, function (e) {
    ed.busy = false;
    if (editing !== ed) { announce('Your edit was not saved: ' + e.message, true); return; }
    if (e.status === 401) {
      editing = null;
      clearSession();
      showJoin('Your session expired. Choose a name to join again.');
      rerenderCurrent();
      return;
    }
    setEditorBusy(ed, false);
    showEditError(ed, e.message);
    var li = ed.room === current ? liFor(ed.id) : null;
    var area = li && li.querySelector('textarea.edit-body');
    if (area) area.focus();
  });
}

/* ---------- dialogs: removal, mute, settings ----------
 * Native modal <dialog>s (focus is kept inside, Escape closes them). A
 * removal is confirmed in #confirm-dialog rather than window.confirm(),
 * which cannot be styled and blocks the page (and scripted tests). When a
 * dialog closes, focus goes back to what opened it, or to the message. */

function openDialog(d) {
  if (typeof d.showModal === 'function') { if (!d.open) d.showModal(); }
  else d.setAttribute('open', '');
}
function closeDialog(d) {
  if (typeof d.close === 'function') { if (d.open) d.close(); }
  else { d.removeAttribute('open'); d.dispatchEvent(new Event('close')); }
}
function restoreFocus(el, room, id) {
  if (el && el.isConnected && !el.disabled) { el.focus(); return; }
  var li = id != null && room === current ? liFor(id) : null;
  if (li) focusMessage(li); else ui.scroller.focus();
}
function setText(el, text) { el.textContent = text || ''; el.hidden = !text; }

// Removal: own messages with the session token, others' with the admin token.
function askRemove(room, m, returnTo) {
  var own = ownsMessage(m);
  confirmState = { room: room, id: m.id, own: own, returnTo: returnTo, busy: false };
  ui.confirmText.textContent = own ?
    'Remove your message? Everyone will see “Message removed” in its place.' :
    'Remove this message from ' + m.author + '? Everyone will see “Removed by a moderator” in its place.';
  ui.confirmQuote.textContent = excerpt(m.body, 200);
  setText(ui.confirmError, '');
  ui.confirmOk.disabled = false;
  ui.confirmCancel.disabled = false;
  openDialog(ui.confirm);
  ui.confirmCancel.focus();
}

function doRemove() {
  var cs = confirmState;
  if (!cs || cs.busy) return;
  var token = cs.own ? (sessionValid() ? session.token : null) : adminToken;
  if (!token) {
    setText(ui.confirmError, cs.own ? 'Your session expired. Join again to remove your messages.' :
      'Enter the admin token in Settings first.');
    return;
  }
  cs.busy = true;
  ui.confirmOk.disabled = true;
  api('DELETE', messagePath(cs.room, cs.id), undefined, token).then(function (data) {
    cs.busy = false;
    var reply = data && data.message;
    var upd = reply && isRemoved(reply) ? reply :
      { removed_at: new Date().toISOString(), removed_by: cs.own ? 'author' : 'moderator' };
    applyUpdate(roomState(cs.room), cs.id, upd);
    if (cs.room === current) updateRoomChrome();
    if (confirmState === cs) closeDialog(ui.confirm);
    announce('Message removed.');
  }, function (e) {
    cs.busy = false;
    var text = e.status === 401 && !cs.own ? 'The admin token was not accepted. Check it in Settings.' : e.message;
    if (confirmState === cs && ui.confirm.open) {
      ui.confirmOk.disabled = false;
      setText(ui.confirmError, text);
    } else {
      announce('The message was not removed: ' + text, true);
    }
  });
}

// Mute the author of a message (moderators).
function openMute(room, m, returnTo) {
  muteState = { room: room, id: m.id, name: m.author, returnTo: returnTo, busy: false };
  ui.muteName.textContent = m.author;
  ui.muteScopeRoom.textContent = 'In #' + room + ' only';
  ui.muteDuration.value = '600';
  ui.muteScope.value = 'room';
  syncMuteButton();
  setText(ui.muteError, '');
  ui.muteConfirm.disabled = false;
  openDialog(ui.mute);
  ui.muteDuration.focus();
}

function syncMuteButton() {
  ui.muteConfirm.textContent = ui.muteDuration.value === '0' ? 'Lift mute' : 'Mute';
}

function muteResult(mute) {
  var where = mute.room ? 'in #' + mute.room : 'everywhere';
  if (!mute.until) return mute.name + ' is no longer muted ' + where;
  return mute.name + ' is muted ' + where + ' until ' + fmtTime(mute.until).short;
}

function doMute(ev) {
  ev.preventDefault();
  var ms = muteState;
  if (!ms || ms.busy) return;
  if (!adminToken) { setText(ui.muteError, 'Enter the admin token in Settings first.'); return; }
  var secs = parseInt(ui.muteDuration.value, 10) || 0;
  var room = ui.muteScope.value === 'everywhere' ? null : ms.room;
  ms.busy = true;
  ui.muteConfirm.disabled = true;
  setText(ui.muteError, '');
  api('POST', '/api/mutes', { name: ms.name, room: room, duration_secs: secs }, adminToken).then(function (data) {
    ms.busy = false;
    var mute = (data && data.mute) || { name: ms.name, room: room, until: null };
    if (muteState === ms) closeDialog(ui.mute);
    announce(muteResult({ name: mute.name || ms.name, room: mute.room, until: mute.until }));
  }, function (e) {
    ms.busy = false;
    var text = e.status === 401 ? 'The admin token was not accepted. Check it in Settings.' : e.message;
    if (muteState === ms && ui.mute.open) {
      ui.muteConfirm.disabled = false;
      setText(ui.muteError, text);
    } else {
      announce(ms.name + ' was not muted: ' + text, true);
    }
  });
}

// Settings: the admin token, for this tab only (sessionStorage).
function setAdminToken(token) {
  adminToken = token || null;
  writeJSON(sessionStore(), ADMIN_KEY, adminToken);
  ui.adminBadge.hidden = !adminToken;
  closeMenu(false);
  rerenderCurrent();
}

function openSettings() {
  ui.adminInput.value = adminToken || '';
  openDialog(ui.settings);
  ui.adminInput.focus();
}

/* ---------- connection status and polling ---------- */

function setStatus(state, text) {
  text = text || state;
  if (ui.status.getAttribute('data-state') !== state) {
    // Announce changes of state, not every tick of the countdown.
    ui.statusLive.textContent = state === 'reconnecting' ? 'Connection lost, reconnecting' :
      state === 'offline' ? 'Offline' : state === 'connected' ? 'Connected' : '';
  }
  ui.status.setAttribute('data-state', state);
  ui.status.textContent = text;
}

function stopCountdown() {
  if (poll.countdown) { clearInterval(poll.countdown); poll.countdown = null; }
}

function tickStatus() {
  if (navigator.onLine === false) { setStatus('offline', 'offline'); return; }
  if (poll.inFlight) { setStatus('reconnecting', 'reconnecting…'); return; }
  var s = Math.max(1, Math.ceil((poll.until - Date.now()) / 1000));
  setStatus('reconnecting', 'reconnecting in ' + s + ' s');
}

function startCountdown(ms) {
  stopCountdown();
  poll.until = Date.now() + ms;
  tickStatus();
  poll.countdown = setInterval(tickStatus, 500);
}

function schedulePoll(ms) {
  clearTimeout(poll.timer);
  poll.timer = setTimeout(doPoll, ms);
}

function doPoll() {
  poll.timer = null;
  if (!current) return;
  if (poll.inFlight) { poll.again = true; return; }
  var roomId = current;
  var st = roomState(roomId);
  var wasLoaded = st.loaded;
  // The first load of a room is its newest page; after that, the single
  // poll from the cursor, which also brings the room list.
  var url = wasLoaded ? pollPath(roomId, st.cursor, st.known, PAGE) : roomPath(roomId) + '?limit=' + PAGE;
  poll.inFlight = true;
  poll.again = false;
  if (poll.failures) tickStatus();
  api('GET', url).then(function (data) {
    var msgs = Array.isArray(data.messages) ? data.messages : [];
    var recovered = poll.failures > 0;
    poll.failures = 0;
    stopCountdown();
    setStatus('connected', 'connected');
    if (!st.loaded) {
      st.loaded = true;
      if (msgs.length < PAGE) st.atStart = true;
    }
    addMessages(roomId, msgs, { live: wasLoaded });
    if (data.rooms) setRooms(data.rooms);
    if (Array.isArray(data.present)) showPresent(roomId, data.present);
    var cur = typeof data.cursor === 'number' ? data.cursor : 0;
    for (var i = 0; i < msgs.length; i++) if (msgs[i].id > cur) cur = msgs[i].id;
    if (cur > st.cursor) st.cursor = cur;
    if (roomId === current) {
      markSeen(roomId, st.cursor);
      updateRoomChrome();
      if (!wasLoaded) scrollToBottom();
      if (ui.notice.getAttribute('data-kind') === 'room') { showNotice(''); ui.notice.removeAttribute('data-kind'); }
    }
    flushPending(recovered);
    if (msgs.length >= PAGE) return 0; // more to catch up on
    return document.hidden ? HIDDEN_POLL_MS : POLL_MS;
  }, function (e) {
    if (e.status === 404 || e.status === 400) {
      // The server answered: the connection is fine, the room is not.
      poll.failures = 0;
      stopCountdown();
      setStatus('connected', 'connected');
      if (roomId === current) {
        showNotice('Room “' + roomId + '” was not found.');
        ui.notice.setAttribute('data-kind', 'room');
      }
      return HIDDEN_POLL_MS;
    }
    poll.failures++;
    var delay = backoff(poll.failures, e.retryAfter);
    startCountdown(delay);
    return delay;
  }).catch(function (err) {
    if (window.console) console.error(err);
    return 5000;
  }).then(function (next) {
    poll.inFlight = false;
    if (poll.failures) tickStatus();
    if (poll.again || roomId !== current) { poll.again = false; if (!poll.failures) next = 0; }
    schedulePoll(next);
  });
}

// Sends again every message that failed for a passing reason, with the same
// client_id (the server answers a repeat with the original: never doubled).
function flushPending(force) {
  if (!sessionValid()) return;
  var now = Date.now();
  Object.keys(roomStates).forEach(function (id) {
    roomStates[id].pending.forEach(function (p) {
      if (p.state === 'failed' && p.auto && !p.inFlight && (force || p.nextTry <= now)) postPending(p);
    });
  });
}

/* ---------- sending ---------- */

function composerError(text) {
  ui.composerError.textContent = text || '';
  ui.composerError.hidden = !text;
}

function send() {
  var text = ui.input.value.trim();
  if (!text) return;
  if (Array.from(text).length > MAX_BODY) {
    composerError('Messages can be at most ' + MAX_BODY + ' characters (this one has ' + Array.from(text).length + ').');
    return;
  }
  composerError('');
  if (!sessionValid()) { updateIdentity(); showJoin('Your session expired. Please choose a name again.'); return; }
  var st = roomState(current);
  var p = newPending(current, newClientId(), text, session.name);
  st.pending.set(p.client_id, p);
  savePending();
  ui.list.appendChild(pendingEl(p));
  ui.input.value = '';
  autosize();
  updateRoomChrome();
  scrollToBottom();
  postPending(p);
}

function newPending(room, clientId, body, author) {
  return { client_id: clientId, body: body, room: room, author: author, state: 'sending',
    auto: true, attempts: 0, nextTry: 0, inFlight: false, error: '', el: null, created: Date.now() };
}

function retryPending(p) {
  if (!sessionValid()) { updateIdentity(); showJoin('Choose a name, then your message is sent.'); return; }
  p.auto = true;
  postPending(p);
}

function postPending(p) {
  if (p.inFlight) return;
  var st = roomState(p.room);
  if (!sessionValid()) { p.state = 'failed'; updatePendingEl(p); return; }
  p.author = session.name;
  p.inFlight = true;
  p.state = 'sending';
  p.error = '';
  updatePendingEl(p);
  api('POST', roomPath(p.room), { body: p.body, client_id: p.client_id }, session.token).then(function (data) {
    p.inFlight = false;
    removePending(st, p.client_id);
    if (data && data.message) {
      addMessages(p.room, [data.message]);
      // The next poll must reach it, even from a lagging replica.
      if (data.message.id > st.known) st.known = data.message.id;
    }
    if (p.room === current) updateRoomChrome();
    // The server answered: no need to wait out the poller's backoff.
    if (poll.failures && !poll.inFlight) schedulePoll(0);
  }, function (e) {
    p.inFlight = false;
    if (!st.pending.has(p.client_id)) return; // a poll already delivered it
    p.state = 'failed';
    p.error = e.message;
    p.attempts++;
    p.auto = transient(e) || e.status === 401;
    p.nextTry = Date.now() + backoff(p.attempts, e.retryAfter);
    updatePendingEl(p);
    if (e.status === 401) {
      clearSession();
      showJoin('Your session expired. Choose a name again and your message is sent.');
    } else if (e.code === 'muted') {
      // The server's message says until when.
      composerError(e.message);
    } else if (e.status === 429) {
      // Over the server's limit: say so, and let the retry wait it out.
      composerError('Slow down: you are sending messages too fast. This one is sent by itself in ' +
        Math.max(1, Math.ceil((p.nextTry - Date.now()) / 1000)) + ' s.');
    } else if (transient(e) && poll.failures === 0) {
      schedulePoll(0); // find out at once whether the connection is gone
    }
  });
}

function restorePending() {
  var saved = readJSON(sessionStore(), PENDING_KEY);
  if (!Array.isArray(saved)) return;
  saved.forEach(function (s) {
    if (!s || !s.room || !s.client_id || typeof s.body !== 'string') return;
    var p = newPending(s.room, s.client_id, s.body, s.author || (session ? session.name : ''));
    p.state = 'failed';
    roomState(s.room).pending.set(p.client_id, p);
  });
}

function autosize() {
  var t = ui.input;
  t.style.height = 'auto';
  t.style.height = Math.min(t.scrollHeight + 2, 200) + 'px';
}

/* ---------- wiring ---------- */

ui.joinForm.addEventListener('submit', join);
ui.joinCancel.addEventListener('click', function () { ui.nameInput.value = ''; showComposer(true); });
ui.changeName.addEventListener('click', function () {
  ui.nameInput.value = session ? session.name : '';
  showJoin('');
});
ui.signOut.addEventListener('click', function () {
  leavePresence(session && session.token);
  clearSession();
  ui.nameInput.value = '';
  showJoin('');
  rerenderCurrent();
});

ui.composer.addEventListener('submit', function (ev) { ev.preventDefault(); send(); ui.input.focus(); });
ui.input.addEventListener('keydown', function (ev) {
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
    ev.preventDefault();
    send();
  }
});
ui.input.addEventListener('input', function () { autosize(); composerError(''); });
// A click on Join or Send is the gesture that may ask for notifications
// (pressing Enter in the name field clicks Join too).
ui.joinButton.addEventListener('click', askNotificationPermission);
ui.sendButton.addEventListener('click', askNotificationPermission);

ui.loadOlder.addEventListener('click', loadOlder);
ui.jump.addEventListener('click', function () { scrollToBottom(); ui.input.focus(); });
ui.scroller.addEventListener('scroll', function () {
  var s = ui.scroller;
  if (s.scrollTop < 24 && s.scrollHeight > s.clientHeight + 24) loadOlder();
  if (isAtBottom() && current && roomState(current).newBelow) { roomState(current).newBelow = 0; ui.jump.hidden = true; }
  if (menu) positionMenu();
}, { passive: true });

// The message menu.
ui.menu.addEventListener('keydown', onMenuKey);
ui.menu.addEventListener('click', onMenuClick);
ui.menu.addEventListener('focusout', function (ev) {
  var to = ev.relatedTarget;
  if (menu && to && !ui.menu.contains(to) && to !== menu.button) closeMenu(false);
});
document.addEventListener('pointerdown', function (ev) {
  if (menu && !ui.menu.contains(ev.target) && !menu.button.contains(ev.target)) closeMenu(false);
});
window.addEventListener('resize', function () { if (menu) positionMenu(); });

// Dialogs.
ui.confirmOk.addEventListener('click', doRemove);
ui.confirmCancel.addEventListener('click', function () { closeDialog(ui.confirm); });
ui.confirm.addEventListener('close', function () {
  var cs = confirmState;
  confirmState = null;
  if (cs) restoreFocus(cs.returnTo, cs.room, cs.id);
});
ui.muteForm.addEventListener('submit', doMute);
ui.muteDuration.addEventListener('change', syncMuteButton);
ui.muteCancel.addEventListener('click', function () { closeDialog(ui.mute); });
ui.mute.addEventListener('close', function () {
  var ms = muteState;
  muteState = null;
  if (ms) restoreFocus(ms.returnTo, ms.room, ms.id);
});
ui.settingsButton.addEventListener('click', openSettings);
ui.settingsForm.addEventListener('submit', function (ev) {
  ev.preventDefault();
  var token = ui.adminInput.value.trim();
  setAdminToken(token);
  closeDialog(ui.settings);
  announce(token ? 'Admin token saved: moderator tools are on in this tab.' : 'Moderator tools are off.');
});
ui.settingsClear.addEventListener('click', function () {
  setAdminToken(null);
  closeDialog(ui.settings);
  announce('Admin token cleared: moderator tools are off.');
});
ui.settingsClose.addEventListener('click', function () { closeDialog(ui.settings); });
ui.settings.addEventListener('close', function () {
  ui.adminInput.value = '';
  ui.settingsButton.focus();
});

window.addEventListener('hashchange', onHashChange);
window.addEventListener('online', function () {
  stopCountdown();
  setStatus('connecting', 'connecting…');
  schedulePoll(0);
});
window.addEventListener('offline', function () { if (poll.failures) tickStatus(); else setStatus('offline', 'offline'); });
document.addEventListener('visibilitychange', function () {
  if (document.hidden) return;
  // Seen now: the mention count leaves the title.
  if (mentionCount) { mentionCount = 0; updateTitle(); }
  // Back in view: catch up now (rooms too) unless we are waiting out a backoff.
  if (!poll.failures) schedulePoll(0);
});
// Leaving the page: leave the room. Back from the back/forward cache: enter it again.
window.addEventListener('pagehide', function () { leavePresence(session && session.token); });
window.addEventListener('pageshow', function (ev) { if (ev.persisted && current) enterPresence(current); });

restorePending();
updateIdentity();
ui.adminBadge.hidden = !adminToken;
if (session) showComposer(false); else showJoin('');
loadRooms();
onHashChange();
