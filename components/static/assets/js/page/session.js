/* Who I am: joining (a session from the server, kept in the browser's
 * storage), the join form and the composer. */

import { api } from '../api.js';
import { ui } from './dom.js';
import { DEFAULT_EDIT_WINDOW_SECS, hooks, S, setSession } from './state.js';
import { rerenderCurrent } from './messages.js';
import { enterPresence, leavePresence } from './rooms.js';
import { nameProblem } from '../text.js';

/* ---------- session ---------- */

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
    hooks.flushPending(true);
    if (S.current) enterPresence(S.current);
  }, function (e) {
    showJoin(e.message || 'Could not join.');
  }).finally(function () { ui.joinButton.disabled = false; });
}
