/* Who I am: joining as a guest, signing in, claiming a name with an
 * account, renaming it (a session from the server, kept in the browser's
 * storage), and what the composer's place shows: the join form, the
 * composer, or why one may not write here (a members-only room for a
 * guest, a mute). */

import { api } from '../api.js';
import { ui } from './dom.js';
import { clearSession, DEFAULT_EDIT_WINDOW_SECS, hooks, MIN_PASSWORD, modToken, role, roomInfo, roomState, roomTitle, S, sessionValid, setSession } from './state.js';
import { rerenderCurrent, updatePendingEl } from './messages.js';
import { enterPresence, leavePresence } from './rooms.js';
import { nameProblem } from '../text.js';
import { mutedText } from '../time.js';

var shownMute = 0, muteTimer = null;

/* ---------- who I am ---------- */

export function updateIdentity() {
  var joined = !!S.session, r = role();
  ui.identity.hidden = !joined;
  ui.whoami.textContent = joined ? S.session.name : '';
  ui.guestBadge.hidden = r !== 'guest';
  ui.changePassword.hidden = r === 'guest';
  ui.adminBadge.hidden = !modToken();
}

// What the composer's place shows, from who I am and the open room.
export function updateComposer() {
  var joined = sessionValid(), open = !joined || S.joinOpen;
  var room = S.current ? roomInfo(S.current) : null;
  var closed = !open && role() === 'guest' && !!(room && room.members_only);
  ui.joinForm.hidden = !open;
  ui.closed.hidden = !closed;
  ui.composer.hidden = open || closed;
  if (closed) {
    ui.closedText.textContent = 'Only members write in #' + roomTitle(S.current) +
      '. As a guest you can read along; create an account (or sign in) to write here.';
  }
  ui.membersOnly.hidden = !room || !modToken();
  ui.membersOnly.setAttribute('aria-pressed', String(!!(room && room.members_only)));
  var until = (S.current && S.muted[S.current]) || 0, muted = until > Date.now();
  ui.input.disabled = ui.sendButton.disabled = muted;
  if (muted && shownMute !== until) composerError(mutedText(until));
  else if (!muted && shownMute) composerError('');
  shownMute = muted ? until : 0;
  updateIdentity();
}

export function composerError(text) {
  ui.composerError.textContent = text || '';
  ui.composerError.hidden = !text;
}

// The server said this person is muted in `room` until `until` (RFC 3339):
// the composer is closed there until then, and unsent messages wait.
export function markMuted(room, until) {
  var t = Date.parse(until || '');
  if (isNaN(t)) t = Date.now() + 60000;
  S.muted[room] = t;
  clearTimeout(muteTimer);
  muteTimer = setTimeout(muteEnded, Math.min(t - Date.now() + 250, 864e5));
  updateComposer();
}

function muteEnded() {
  var now = Date.now(), next = 0;
  Object.keys(S.muted).forEach(function (room) {
    if (S.muted[room] > now) { next = next ? Math.min(next, S.muted[room]) : S.muted[room]; return; }
    delete S.muted[room];
    // Retry is offered again on what waited out the mute.
    roomState(room).pending.forEach(function (p) { if (p.muted) { p.muted = false; updatePendingEl(p); } });
  });
  if (next) muteTimer = setTimeout(muteEnded, next - now + 250);
  updateComposer();
}

/* ---------- the join form ----------
 * One form, the name first. No password: a guest's session. A password:
 * "Join" signs in to the account that holds the name, "Create account"
 * claims the name with it. For an account, "Change name" opens the same
 * form to rename it. */

export function showJoin(message, focusPassword, renaming) {
  S.joinOpen = true;
  renaming = S.renaming = !!(renaming && S.session && role() !== 'guest');
  ui.joinCancel.hidden = !S.session;
  if (S.session && !ui.nameInput.value) ui.nameInput.value = S.session.name;
  ui.remember.checked = !!(S.session && S.session.remember);
  ui.joinLabel.textContent = renaming ? 'Your new name' : 'Your name';
  ui.passwordInput.hidden = ui.createAccount.hidden = ui.joinHint.hidden = renaming;
  joinButtonText();
  showJoinError(message);
  updateComposer();
  var el = focusPassword ? ui.passwordInput : ui.nameInput;
  el.focus();
  el.select();
}

export function showComposer(focus) {
  S.joinOpen = S.renaming = false;
  ui.passwordInput.value = '';
  showJoinError('');
  updateComposer();
  if (focus && !ui.composer.hidden) ui.input.focus();
}

export function joinButtonText() {
  ui.joinButton.textContent = S.renaming ? 'Rename' : ui.passwordInput.value ? 'Sign in' : 'Join as guest';
}

function showJoinError(text) {
  ui.joinError.textContent = text || '';
  ui.joinError.hidden = !text;
}

// A new session (a guest's, an account's) from the server's reply.
export function startSession(data, name, remember) {
  // A new session: the old one leaves the room first.
  if (S.session) leavePresence(S.session.token);
  S.muted = Object.create(null);
  setSession({
    token: data.token, name: data.name || name, expires_at: data.expires_at, remember: remember,
    session: typeof data.session === 'string' && data.session ? data.session : undefined,
    edit_window_secs: typeof data.edit_window_secs === 'number' ? data.edit_window_secs : DEFAULT_EDIT_WINDOW_SECS,
    role: data.role || 'guest'
  });
  ui.nameInput.value = '';
  showComposer(true);
  rerenderCurrent();
  hooks.flushPending(true);
  hooks.loadReadMarks();
  if (S.current) enterPresence(S.current);
}

// What a refusal of the join form means, in a sentence.
export function joinErrorText(e, name) {
  switch (e.code) {
    case 'name_claimed': return '“' + name + '” belongs to an account. Enter its password to sign in, or choose another name.';
    case 'name_taken': return 'An account already has this name, or one that looks the same. Choose another name.';
    case 'invalid_credentials': return 'That name and password do not match an account. Check both, or leave the password empty to join as a guest.';
    case 'rate_limited': return 'Too many tries. Wait ' + Math.max(1, e.retryAfter || 60) + ' s, then try again.';
  }
  var m = e.message || 'Could not join.';
  return m.charAt(0).toUpperCase() + m.slice(1) + (/[.!?]$/.test(m) ? '' : '.');
}

export function join(ev, create) {
  if (ev) ev.preventDefault();
  var name = ui.nameInput.value.trim(), password = ui.passwordInput.value;
  var problem = nameProblem(name);
  if (problem) { showJoinError(problem); ui.nameInput.focus(); return; }
  if (create && Array.from(password).length < MIN_PASSWORD) {
    showJoinError('To create an account, choose a password of at least ' + MIN_PASSWORD + ' characters.');
    ui.passwordInput.focus();
    return;
  }
  var req;
  if (S.renaming) {
    if (!sessionValid()) { showJoin('Your session expired. Sign in again.', true); return; }
    req = api('POST', '/api/accounts/name', { name: name }, S.session.token);
  } else if (create) {
    req = api('POST', '/api/accounts', { name: name, password: password });
  } else {
    req = api('POST', '/api/session', password ? { name: name, password: password } : { name: name });
  }
  ui.joinButton.disabled = ui.createAccount.disabled = true;
  showJoinError('');
  var remember = ui.remember.checked;
  req.then(function (data) {
    startSession(data, name, remember);
  }, function (e) {
    var renaming = S.renaming && e.status !== 401;
    if (S.renaming && !renaming) clearSession();
    showJoin(joinErrorText(e, name), e.code === 'name_claimed' || e.code === 'invalid_credentials', renaming);
  }).finally(function () { ui.joinButton.disabled = ui.createAccount.disabled = false; });
}

// The server ended this session: it expired, a new password or role
// signed it out, or an account claimed the guest's name. `after` ends the
// sentence ("." or what happens once joined again).
export function sessionLost(e, after) {
  var name = S.session ? S.session.name : '';
  clearSession();
  showJoin((e.code === 'signed_out' ? 'You were signed out: your password or role changed. Sign in again' :
    e.code === 'name_claimed' ? '“' + name + '” now belongs to an account. Sign in with its password, or choose another name' :
    'Your session expired. Join again') + after, e.code === 'signed_out' || e.code === 'name_claimed');
  if (e.code !== 'name_claimed') ui.nameInput.value = name;
  rerenderCurrent();
}
