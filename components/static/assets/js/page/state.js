/* The page's shared state: its settings, what it knows and what of it is
 * kept in storage. No DOM here.
 * One object, S, holds what several modules reassign (an ES module cannot
 * assign another's variables); the other shared values are objects that
 * are changed in place. */

import * as storage from '../storage.js';
import * as unread from '../unread.js';
import { ADMIN_KEY, localStore, PENDING_KEY, readJSON, SEEN_KEY, sessionStore, writeJSON } from '../storage.js';

export var DEFAULT_ROOM = 'general';
// One request per poll (GET /api/poll): the open room's new messages and
// every room's newest id (for unread counts) come together.
export var POLL_MS = 1000;                // while the tab is visible
export var HIDDEN_POLL_MS = 10000;        // while it is hidden: 10-15 s, spread so
export var HIDDEN_POLL_SPREAD_MS = 5000;  // hidden tabs do not poll in step
export var ROOMS_RETRY_MS = 5000;         // the first room list, until it loads
export var PAGE = 100;
export var OLDER_PAGE = 50;
export var MAX_BODY = 2000;
export var MIN_PASSWORD = 8;              // as the server checks a new password
export var PRESENCE_MS = 30000;           // "I am here" at most this often; polls list the last minute
export var DEFAULT_EDIT_WINDOW_SECS = 900;

// What the page knows now.
export var S = {
  session: storage.loadSession(), // the signed-in session, or null
  current: null,                  // the open room's id
  rooms: [],                      // the room list, as the server gave it
  adminToken: loadAdminToken(),   // a moderator's token, this tab only
  menu: null,                     // the open message menu: { button, room, id }
  replyTo: null,                  // the message the composer answers: { room, id }
  reacting: null,                 // the message whose emoji palette is open: { room, id }
  editing: null,                  // the message being edited: { room, id, draft, busy, error }
  confirmState: null,             // the removal being confirmed
  muteState: null,                // the mute being chosen
  joinOpen: false,                // the join form is open (over the composer)
  renaming: false,                // ...to give the signed-in account another name
  muted: Object.create(null),     // room -> when this person's mute there ends (ms)
  pwReturn: null,                 // where focus goes when the password dialog closes
  mentionCount: 0,                // mentions of me while the tab was hidden, shown in the title
  mentioned: Object.create(null), // room -> true: a message there mentions me since I was last in it
  scanned: Object.create(null)    // room -> the last id of it read for mentions (rooms.js)
};
export var seen = readJSON(localStore(), SEEN_KEY) || {};
export var roomStates = Object.create(null);
export var poll = { timer: null, inFlight: false, again: false, failures: 0, countdown: null, until: 0 };
export var presence = { room: null, timer: null, shownKey: null, names: [] };

// What views call in later layers (sync.js, actions.js); app.js fills it.
export var hooks = { schedulePoll: null, flushPending: null, retryPending: null, attachEditor: null, updateComposer: null,
  loadReadMarks: null };

function loadAdminToken() {
  var t = readJSON(sessionStore(), ADMIN_KEY);
  return typeof t === 'string' && t ? t : null;
}

/* ---------- rooms ---------- */

export function roomState(id) {
  var st = roomStates[id];
  if (!st) {
    st = roomStates[id] = {
      id: id, msgs: new Map(), minId: 0, cursor: 0, known: 0, loaded: false, atStart: false,
      loadingOlder: false, pending: new Map(), scrollTop: null, atBottom: true, newBelow: 0,
      late: new Map(), authors: new Set(), authorsVersion: 0,
      reactions: new Map(), // message id -> (session + emoji -> its latest event), model.js
      quoted: new Map()     // message id -> the message a reply quotes, when not loaded (or null: asked)
    };
  }
  return st;
}

export function roomInfo(id) {
  var rooms = S.rooms;
  for (var i = 0; i < rooms.length; i++) if (rooms[i].id === id) return rooms[i];
  return null;
}

export function roomTitle(id) {
  var r = roomInfo(id);
  return (r && r.title) || id;
}

export function markSeen(roomId, id) {
  if (unread.markSeen(seen, roomId, id)) writeJSON(localStore(), SEEN_KEY, seen);
}

export function savePending() {
  var all = [];
  Object.keys(roomStates).forEach(function (id) {
    roomStates[id].pending.forEach(function (p) {
      all.push({ room: p.room, client_id: p.client_id, body: p.body, author: p.author, reply_to: p.reply_to });
    });
  });
  writeJSON(sessionStore(), PENDING_KEY, all.length ? all : null);
}

/* ---------- session ---------- */

export function setSession(s) {
  S.session = s;
  storage.saveSession(s);
}

export function clearSession() {
  S.session = null;
  storage.clearSession();
}

export function sessionValid() {
  if (!S.session) return false;
  if (S.session.expires_at && Date.parse(S.session.expires_at) <= Date.now()) { clearSession(); return false; }
  return true;
}

// A role comes with the session: guest, member (an account) or moderator.
// A session stored before accounts has none: a guest's.
export function role() {
  return (S.session && S.session.role) || 'guest';
}

// What a moderator acts with: the operator's admin token (this tab), or a
// moderator's own session, so the moderation log names them.
export function modToken() {
  if (S.adminToken) return S.adminToken;
  return role() === 'moderator' && sessionValid() ? S.session.token : null;
}
