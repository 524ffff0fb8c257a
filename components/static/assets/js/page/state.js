/* The page's shared state: its elements, its settings, and what it knows.
 * One object, S, holds what several modules reassign (an ES module cannot
 * assign another's variables); the other shared values are objects that
 * are changed in place. */

import * as storage from '../storage.js';
import { roomState, roomTitle } from './rooms.js';
import { ADMIN_KEY, localStore, readJSON, SEEN_KEY, sessionStore } from '../storage.js';

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
export var PRESENCE_MS = 30000;           // "I am here" at most this often; polls list the last minute
export var DEFAULT_EDIT_WINDOW_SECS = 900;
var ACTION_STATUS_MS = 20000;      // how long the result of a removal or mute stays shown

function $(id) { return document.getElementById(id); }
export var ui = {
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

// What the page knows now.
export var S = {
  session: storage.loadSession(), // the signed-in session, or null
  current: null,                  // the open room's id
  adminToken: loadAdminToken(),   // a moderator's token, this tab only
  menu: null,                     // the open message menu: { button, room, id }
  editing: null,                  // the message being edited: { room, id, draft, busy, error }
  confirmState: null,             // the removal being confirmed
  muteState: null,                // the mute being chosen
  mentionCount: 0                 // mentions of me while the tab was hidden, shown in the title
};
export var seen = readJSON(localStore(), SEEN_KEY) || {};
export var roomStates = Object.create(null);
export var poll = { timer: null, inFlight: false, again: false, failures: 0, countdown: null, until: 0 };
export var presence = { room: null, timer: null, shownKey: null, names: [] };
var actionTimer = null;

function loadAdminToken() {
  var t = readJSON(sessionStore(), ADMIN_KEY);
  return typeof t === 'string' && t ? t : null;
}

/* ---------- small helpers ---------- */

export function make(tag, cls, text) {
  var n = document.createElement(tag);
  if (cls) n.className = cls;
  if (text != null) n.textContent = String(text);
  return n;
}

export function isAtBottom() {
  var s = ui.scroller;
  return s.scrollHeight - s.scrollTop - s.clientHeight < 48;
}
export function scrollToBottom() {
  ui.scroller.scrollTop = ui.scroller.scrollHeight;
  if (S.current) roomState(S.current).newBelow = 0;
  ui.jump.hidden = true;
}

export function showNotice(text) {
  ui.notice.textContent = text || '';
  ui.notice.hidden = !text;
}

// The outcome of an action (a removal, a mute, a settings change), in the
// visible live region #action-status; it clears itself after a while.
export function announce(text, isError) {
  clearTimeout(actionTimer);
  ui.actionStatus.textContent = text || '';
  ui.actionStatus.classList.toggle('is-error', !!(text && isError));
  if (text) actionTimer = setTimeout(function () { ui.actionStatus.textContent = ''; }, ACTION_STATUS_MS);
}

export function updateTitle() {
  var base = S.current ? roomTitle(S.current) + ' · Chat' : 'Chat';
  document.title = (S.mentionCount > 0 ? '(' + S.mentionCount + ') ' : '') + base;
}
