/* Who I am: joining (a session from the server, kept in the browser's
 * storage), signing out, and which messages are mine. */

import * as storage from '../storage.js';
import { api } from '../api.js';
import { rerenderCurrent } from './messages.js';
import { enterPresence, leavePresence } from './rooms.js';
import { DEFAULT_EDIT_WINDOW_SECS, S, ui } from './state.js';
import { flushPending } from './sync.js';
import { nameProblem } from '../text.js';

/* ---------- session ---------- */

function setSession(s) {
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

export function updateIdentity() {
  var joined = !!S.session;
  ui.identity.hidden = !joined;
  ui.whoami.textContent = joined ? S.session.name : '';
}

export function showJoin(message) {
  ui.joinForm.hidden = false;
  ui.composer.hidden = true;
  ui.joinCancel.hidden = !S.session;
  if (S.session && !ui.nameInput.value) ui.nameInput.value = S.session.name;
  ui.remember.checked = !!(S.session && S.session.remember);
  ui.joinError.textContent = message || '';
  ui.joinError.hidden = !message;
  updateIdentity();
  ui.nameInput.focus();
  ui.nameInput.select();
}

export function showComposer(focus) {
  ui.joinForm.hidden = true;
  ui.composer.hidden = false;
  ui.joinError.hidden = true;
  updateIdentity();
  if (focus) ui.input.focus();
}

export function join(ev) {
  ev.preventDefault();
  var name = ui.nameInput.value.trim();
  var problem = nameProblem(name);
  if (problem) { showJoin(problem); return; }
  ui.joinButton.disabled = true;
  ui.joinError.hidden = true;
  var remember = ui.remember.checked;
  api('POST', '/api/session', { name: name }).then(function (data) {
    // A new name is a new session: the old one leaves the room first.
    if (S.session) leavePresence(S.session.token);
    setSession({
      token: data.token, name: data.name || name, expires_at: data.expires_at, remember: remember,
      session: typeof data.session === 'string' && data.session ? data.session : undefined,
      edit_window_secs: typeof data.edit_window_secs === 'number' ? data.edit_window_secs : DEFAULT_EDIT_WINDOW_SECS
    });
    ui.nameInput.value = '';
    showComposer(true);
    rerenderCurrent();
    flushPending(true);
    if (S.current) enterPresence(S.current);
  }, function (e) {
    showJoin(e.message || 'Could not join.');
  }).finally(function () { ui.joinButton.disabled = false; });
}

// Which messages are mine. Ownership (may I edit or remove it?) is by
// session id only, as the server decides it. The "mine" look falls back to
// the name where a session id is missing on either side (older messages,
// older stored sessions), as the page did before session ids existed.
export function ownsMessage(m) {
  return !!(S.session && S.session.session && m.session && m.session === S.session.session);
}
export function looksMine(m) {
  if (!S.session) return false;
  if (S.session.session && m.session) return m.session === S.session.session;
  return m.author === S.session.name;
}
