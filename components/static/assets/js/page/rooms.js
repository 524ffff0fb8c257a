/* The room list, unread counts, switching rooms, and presence ("Here
 * now"). */

import * as unread from '../unread.js';
import { api, leave, presencePath, roomPath } from '../api.js';
import { isAtBottom, make, showNotice, ui } from './dom.js';
import { DEFAULT_ROOM, hooks, poll, presence, PRESENCE_MS, ROOMS_RETRY_MS, roomInfo, roomState, roomTitle, S, seen, sessionValid } from './state.js';
import { setPresent, unreadCount } from './model.js';
import { closeMenu, renderRoom, updateTitle } from './messages.js';
import { mentionsMe, orderNames } from '../text.js';
import { localStore, SEEN_KEY, writeJSON } from '../storage.js';

var roomsTimer = null;

/* ---------- rooms and unread counts ---------- */

function scheduleRooms(ms) {
  clearTimeout(roomsTimer);
  roomsTimer = setTimeout(loadRooms, ms);
}

// The room list, from GET /api/rooms at start and then from every poll.
export function setRooms(list) {
  if (!Array.isArray(list)) return;
  // A poll's rows leave out members_only: keep what the room list said.
  S.rooms = list.map(function (r) {
    var was = r && typeof r.members_only !== 'boolean' && roomInfo(r.id);
    return was ? Object.assign({}, r, { members_only: !!was.members_only }) : r;
  });
  if (unread.seedSeen(seen, list)) writeJSON(localStore(), SEEN_KEY, seen);
  ui.roomsError.hidden = true;
  renderRooms();
  scanForMentions();
}

/* ---------- mentions in other rooms ----------
 * A poll brings only the open room's events; of the others, their newest
 * id. When one moves on, its new events are read once (from where this
 * page last read it: the same request for everyone who was here, so a
 * shared cache answers most of them), and a message that mentions me puts
 * an @ on the room until I open it. */

var scanning = Object.create(null);

function scanForMentions() {
  if (!S.session) return;
  var own = S.session.name, names = orderNames([own]);
  S.rooms.forEach(function (r) {
    if (r.id === S.current || scanning[r.id] || typeof r.last_message_id !== 'number') return;
    var from = typeof S.scanned[r.id] === 'number' ? S.scanned[r.id] : seen[r.id];
    if (typeof from !== 'number' || r.last_message_id <= from) return;
    scanning[r.id] = true;
    api('GET', roomPath(r.id) + '?after=' + from + '&limit=100').then(function (data) {
      var msgs = Array.isArray(data.messages) ? data.messages : [];
      var hit = msgs.some(function (m) {
        return m.kind === 'message' && m.author !== own && mentionsMe(m.body, names, own);
      });
      S.scanned[r.id] = typeof data.cursor === 'number' && data.cursor > from ? data.cursor : r.last_message_id;
      if (hit && r.id !== S.current) { S.mentioned[r.id] = true; renderRooms(); }
    }, function () { /* the next poll tries again */ }).finally(function () { delete scanning[r.id]; });
  });
}

// Alt+ArrowUp/Down: the room before or after the open one in the list.
export function stepRoom(delta) {
  var i = S.rooms.findIndex(function (r) { return r.id === S.current; });
  var next = S.rooms[i + delta];
  if (next) location.hash = '#/room/' + encodeURIComponent(next.id);
}

// Once at start, so the list shows before the first poll; polls keep it
// current after that.
export function loadRooms(again) {
  roomsTimer = null;
  api('GET', '/api/rooms').then(function (data) {
    if (!S.rooms.length || again) setRooms(data.rooms);
  }, function (e) {
    if (S.rooms.length) return;
    ui.roomsError.textContent = 'Could not load rooms (' + e.message + '). Retrying…';
    ui.roomsError.hidden = false;
    scheduleRooms(Math.max(ROOMS_RETRY_MS, (e.retryAfter || 0) * 1000));
  });
}

function renderRooms() {
  var frag = document.createDocumentFragment();
  var list = S.rooms.slice();
  if (S.current && !list.some(function (r) { return r.id === S.current; })) list.push({ id: S.current, title: S.current });
  list.forEach(function (r) {
    var li = make('li', 'room');
    li.setAttribute('data-room', r.id);
    var a = make('a', null);
    a.href = '#/room/' + encodeURIComponent(r.id);
    a.appendChild(make('span', 'hash', '#'));
    a.appendChild(make('span', 'room-name', r.title || r.id));
    // The whole title, where the strip or the sidebar cuts it off.
    a.title = '#' + (r.title || r.id);
    if (S.mentioned[r.id] && r.id !== S.current) {
      li.classList.add('mentioned');
      var at = make('span', 'at-badge', '@');
      at.setAttribute('aria-hidden', 'true');
      a.appendChild(at);
      a.appendChild(make('span', 'visually-hidden', ' mentions you'));
    }
    var n = unreadCount(r);
    if (n > 0) {
      li.classList.add('unread');
      li.setAttribute('data-unread', String(n));
      var b = unread.badge(n);
      a.appendChild(make('span', 'badge', b.text));
      a.appendChild(make('span', 'visually-hidden', b.spoken));
    }
    if (r.id === S.current) { li.classList.add('active'); a.setAttribute('aria-current', 'page'); }
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
  ui.roomTitle.textContent = S.current ? '#' + roomTitle(S.current) : '';
  ui.roomTitle.title = ui.roomTitle.textContent;
  if (S.current) updateTitle();
  if (hooks.updateComposer) hooks.updateComposer();
  summariseHidden();
}

// On a phone the rooms are a strip that scrolls sideways: unread messages
// of rooms out of view are summed at the edge they are beyond; a click
// scrolls that way.
export function summariseHidden() {
  var box = ui.roomsNav.getBoundingClientRect(), before = 0, after = 0;
  ui.roomList.querySelectorAll('li.unread').forEach(function (li) {
    var r = li.getBoundingClientRect(), n = +li.getAttribute('data-unread') || 0;
    if (r.left >= box.right - 8) after += n;
    else if (r.right <= box.left + 8) before += n;
  });
  edge(ui.roomsLess, before, '← ', ' unread in rooms to the left');
  edge(ui.roomsMore, after, '', ' unread in rooms to the right');
}

function edge(el, n, arrow, spoken) {
  el.hidden = !n;
  var b = unread.badge(n);
  el.textContent = arrow ? arrow + b.text : b.text + ' →';
  el.setAttribute('aria-label', b.text + spoken);
}

function roomFromHash() {
  var m = /^#\/room\/([^/?#]+)$/.exec(location.hash || '');
  if (!m) return null;
  try { return decodeURIComponent(m[1]); } catch (e) { return null; }
}

export function onHashChange() {
  var id = roomFromHash();
  if (!id) {
    id = S.current || DEFAULT_ROOM;
    history.replaceState(null, '', '#/room/' + encodeURIComponent(id));
  }
  switchRoom(id);
}

function switchRoom(id) {
  if (id === S.current) return;
  if (S.current) {
    var prev = roomState(S.current);
    prev.atBottom = isAtBottom();
    prev.scrollTop = ui.scroller.scrollTop;
  }
  closeMenu(false);
  S.current = id;
  // Where "new since you were last here" begins: how far this page (or
  // the account, from another device: sync.js) had read it before now.
  roomState(id).readMark = typeof seen[id] === 'number' ? seen[id] : null;
  delete S.mentioned[id];
  S.scanned[id] = undefined;
  showNotice('');
  clearPresent();
  renderRooms();
  renderRoom();
  // Whether it is members-only now (a poll does not say).
  if (S.rooms.length) loadRooms(true);
  // Leave the room we were in, say we are in this one.
  if (presence.room && presence.room !== id) leavePresence(S.session && S.session.token);
  enterPresence(id);
  if (poll.failures === 0) hooks.schedulePoll(0);
}

/* ---------- presence ("Here now") ----------
 * While a room is open and the person is signed in, the page says so
 * (PUT .../presence) when it opens the room and then every 30 s, visible
 * or not, and says it left (DELETE, keepalive so it survives the page
 * going away) when it switches rooms, signs out or is hidden for good
 * (pagehide). Who is here comes with every poll. */

export function enterPresence(room) {
  clearTimeout(presence.timer);
  presence.timer = null;
  if (!room || !sessionValid()) { presence.room = null; return; }
  presence.room = room;
  api('PUT', presencePath(room), undefined, S.session.token).then(function (data) {
    if (room === S.current && data && Array.isArray(data.present)) showPresent(room, data.present);
  }, function () { /* best effort: the next beat tries again */ });
  presence.timer = setTimeout(function () {
    if (presence.room === room && room === S.current) enterPresence(room);
  }, PRESENCE_MS);
}

export function leavePresence(token) {
  var room = presence.room;
  clearTimeout(presence.timer);
  presence.timer = null;
  presence.room = null;
  if (room && token) leave(presencePath(room), token);
}

export function showPresent(room, names) {
  if (room !== S.current) return;
  var list = setPresent(room, names);
  if (!list) return;
  var frag = document.createDocumentFragment();
  list.forEach(function (n) { frag.appendChild(make('li', S.session && n === S.session.name ? 'me' : null, n)); });
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
