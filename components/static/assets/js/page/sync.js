/* Keeping up with the server: the poll, the connection status, and
 * sending (with retries that never double a message). */

import { api, backoff, newClientId, pollPath, PROBE_MS, roomPath, transient, unanswered } from '../api.js';
import { showNotice, ui } from './dom.js';
import { HIDDEN_POLL_MS, HIDDEN_POLL_SPREAD_MS, markSeen, MAX_BODY, PAGE, poll, POLL_MS, roomInfo, role, roomState, S, savePending, seen, sessionValid } from './state.js';
import { advanceCursor, duePending, loadPending, newPending, noteLoaded, pendingFailed } from './model.js';
import { addMessages, pendingEl, removePending, scrollToBottom, showDivider, updatePendingEl, updateRoomChrome } from './messages.js';
import { setRooms, showPresent } from './rooms.js';
import { setReply } from './actions.js';
import { composerError, markMuted, sessionLost, showJoin, updateComposer, updateIdentity } from './session.js';
import { PENDING_KEY, readJSON, sessionStore } from '../storage.js';

/* ---------- connection status and polling ---------- */

export function setStatus(state, text) {
  text = text || state;
  if (ui.status.getAttribute('data-state') !== state) {
    // Announce changes of state, not every tick of the countdown.
    ui.statusLive.textContent = state === 'reconnecting' ? 'Connection lost, reconnecting' :
      state === 'offline' ? 'Offline' : state === 'connected' ? 'Connected' : '';
  }
  ui.status.setAttribute('data-state', state);
  ui.status.textContent = text;
  ui.reconnect.hidden = state !== 'reconnecting' && state !== 'offline';
}

/* ---------- finding out that the server is back ----------
 * While no host answers, the page asks GET /api/health every half second
 * (with jitter): an unanswered request costs nothing, and the first 200
 * brings the poll and the pending sends back at once, instead of at the
 * end of a back-off that has grown meanwhile. An answer with an error
 * (overload, a database down) is waited out with the back-off instead. */

var probeTimer = null;

function startProbe() {
  if (probeTimer) return;
  probeTimer = setTimeout(runProbe, PROBE_MS * (0.8 + Math.random() * 0.4));
}

function runProbe() {
  probeTimer = null;
  if (!poll.failures) return;
  api('GET', '/api/health').then(reconnectNow, function () { if (poll.failures) startProbe(); });
}

// The poll now, not at the end of its back-off; its success sends what waits.
export function reconnectNow() {
  if (!poll.failures) return;
  stopCountdown();
  if (!poll.inFlight) schedulePoll(0);
}

export function stopCountdown() {
  if (poll.countdown) { clearInterval(poll.countdown); poll.countdown = null; }
}

export function tickStatus() {
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

export function schedulePoll(ms) {
  clearTimeout(poll.timer);
  poll.timer = setTimeout(doPoll, ms);
}

function doPoll() {
  poll.timer = null;
  if (!S.current) return;
  if (poll.inFlight) { poll.again = true; return; }
  var roomId = S.current;
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
    noteLoaded(st, msgs.length);
    // A newest page brings the reactions in force on its messages apart.
    addMessages(roomId, Array.isArray(data.reactions) ? msgs.concat(data.reactions) : msgs, { live: wasLoaded });
    if (data.rooms) setRooms(data.rooms);
    if (Array.isArray(data.present)) showPresent(roomId, data.present);
    advanceCursor(st, data.cursor, msgs);
    if (roomId === S.current) {
      markSeen(roomId, st.cursor);
      saveReadMark(roomId);
      updateRoomChrome();
      if (!wasLoaded && !showDivider()) scrollToBottom();
      if (ui.notice.getAttribute('data-kind') === 'room') { showNotice(''); ui.notice.removeAttribute('data-kind'); }
    }
    flushPending(recovered);
    if (msgs.length >= PAGE) return 0; // more to catch up on
    // A tab nobody looks at asks rarely; shown again, it asks at once
    // (app.js, visibilitychange).
    return document.hidden ? HIDDEN_POLL_MS + Math.random() * HIDDEN_POLL_SPREAD_MS : POLL_MS;
  }, function (e) {
    if (e.status === 404 || e.status === 400) {
      // The server answered: the connection is fine, the room is not.
      poll.failures = 0;
      stopCountdown();
      setStatus('connected', 'connected');
      if (roomId === S.current) {
        showNotice('Room “' + roomId + '” was not found.');
        ui.notice.setAttribute('data-kind', 'room');
      }
      return HIDDEN_POLL_MS;
    }
    poll.failures++;
    var delay = backoff(poll.failures, e.retryAfter);
    startCountdown(delay);
    if (unanswered(e)) startProbe();
    return delay;
  }).catch(function (err) {
    if (window.console) console.error(err);
    return 5000;
  }).then(function (next) {
    poll.inFlight = false;
    if (poll.failures) tickStatus();
    if (poll.again || roomId !== S.current) { poll.again = false; if (!poll.failures) next = 0; }
    schedulePoll(next);
  });
}

// Sends again every message that failed for a passing reason, with the same
// client_id (the server answers a repeat with the original: never doubled).
export function flushPending(force) {
  if (!sessionValid()) return;
  duePending(force, Date.now()).forEach(postPending);
}

/* ---------- how far an account has read, on every device ----------
 * The browser keeps it for everyone (state.js, seen); an account keeps it
 * on the server too (GET|PUT /api/read): a page signing in takes the marks
 * that are further than its own, and sends its own at most every few
 * seconds per room. */

var READ_MARK_MS = 3000;
var sentMarks = Object.create(null); // room -> { id, at, timer }

// Only an account keeps marks on the server (a guest's role is 'guest').
function isAccount() { return !!S.session && role() !== 'guest'; }

export function loadReadMarks() {
  if (!isAccount() || !sessionValid()) return;
  api('GET', '/api/read', undefined, S.session.token).then(function (data) {
    var read = data && data.read ? data.read : {};
    Object.keys(read).forEach(function (room) {
      var mark = read[room];
      if (typeof mark !== 'number') return;
      markSeen(room, mark);
      var st = roomState(room);
      if (room === S.current && (typeof st.readMark !== 'number' || mark > st.readMark)) {
        st.readMark = mark;
        updateRoomChrome();
        if (st.loaded && !showDivider()) scrollToBottom();
      }
    });
  }, function () { /* this device's own marks still work */ });
}

function saveReadMark(room) {
  if (!isAccount()) return;
  var sent = sentMarks[room] || (sentMarks[room] = { id: 0, at: 0, timer: null });
  var id = seen[room] || 0;
  if (id <= sent.id || sent.timer) return;
  var wait = sent.at + READ_MARK_MS - Date.now();
  sent.timer = setTimeout(function () {
    sent.timer = null;
    var now = seen[room] || 0;
    if (now <= sent.id || !isAccount()) return;
    sent.at = Date.now();
    api('PUT', '/api/read', { room: room, id: now }, S.session.token).then(function () {
      if (now > sent.id) sent.id = now;
    }, function () { /* sent again with the next mark */ });
  }, Math.max(0, wait));
}

/* ---------- sending ---------- */

export function send() {
  var text = ui.input.value.trim();
  if (!text) return;
  if (Array.from(text).length > MAX_BODY) {
    composerError('Messages can be at most ' + MAX_BODY + ' characters (this one has ' + Array.from(text).length + ').');
    return;
  }
  composerError('');
  if (!sessionValid()) { updateIdentity(); showJoin('Your session expired. Please choose a name again.'); return; }
  var st = roomState(S.current);
  var to = S.replyTo && S.replyTo.room === S.current ? S.replyTo.id : null;
  var p = newPending(S.current, newClientId(), text, S.session.name, to);
  setReply(null);
  st.pending.set(p.client_id, p);
  savePending();
  ui.list.appendChild(pendingEl(p));
  ui.input.value = '';
  autosize();
  updateRoomChrome();
  scrollToBottom();
  postPending(p);
}

export function retryPending(p) {
  if (!sessionValid()) { updateIdentity(); showJoin('Choose a name, then your message is sent.'); return; }
  p.auto = true;
  postPending(p);
}

function postPending(p) {
  if (p.inFlight) return;
  var st = roomState(p.room);
  if (!sessionValid()) { p.state = 'failed'; updatePendingEl(p); return; }
  p.author = S.session.name;
  p.inFlight = true;
  p.state = 'sending';
  p.error = '';
  updatePendingEl(p);
  var body = { body: p.body, client_id: p.client_id };
  if (p.reply_to) body.reply_to = p.reply_to;
  api('POST', roomPath(p.room), body, S.session.token).then(function (data) {
    p.inFlight = false;
    removePending(st, p.client_id);
    if (data && data.message) {
      addMessages(p.room, [data.message]);
      // The next poll must reach it, even from a lagging replica.
      if (data.message.id > st.known) st.known = data.message.id;
    }
    if (p.room === S.current) updateRoomChrome();
    // The server answered: no need to wait out the poller's backoff.
    if (poll.failures && !poll.inFlight) schedulePoll(0);
  }, function (e) {
    p.inFlight = false;
    if (!st.pending.has(p.client_id)) return; // a poll already delivered it
    pendingFailed(p, e, Date.now());
    updatePendingEl(p);
    if (e.status === 401 || e.code === 'name_claimed') {
      sessionLost(e, ' and your message is sent.');
    } else if (e.code === 'muted') {
      // Said once, by the composer, with the end in local time.
      markMuted(p.room, e.until);
    } else if (e.code === 'members_only') {
      // The room closed to guests since the page last heard: close the box.
      var r = roomInfo(p.room);
      if (r) r.members_only = true;
      updateComposer();
    } else if (e.status === 429) {
      // Over the server's limit: say so, and let the retry wait it out.
      composerError('Slow down: you are sending messages too fast. This one is sent by itself in ' +
        Math.max(1, Math.ceil((p.nextTry - Date.now()) / 1000)) + ' s.');
    } else if (transient(e) && poll.failures === 0) {
      schedulePoll(0); // find out at once whether the connection is gone
    }
  });
}

export function restorePending() {
  loadPending(readJSON(sessionStore(), PENDING_KEY));
}

export function autosize() {
  var t = ui.input;
  t.style.height = 'auto';
  t.style.height = Math.min(t.scrollHeight + 2, 200) + 'px';
}
