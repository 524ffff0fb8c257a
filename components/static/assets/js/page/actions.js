/* What one does to a message: what its menu's items do, replying and
 * reacting, editing one's own, and the dialogs (removal, mute, the
 * moderator's settings). */

import { api, messagePath } from '../api.js';
import { isRemoved, updatedState } from '../events.js';
import { announce, make, ui } from './dom.js';
import { MAX_BODY, MIN_PASSWORD, modToken, roomInfo, roomState, roomTitle, S, sessionValid } from './state.js';
import { menuItems, ownsMessage } from './model.js';
import { addMessages, applyUpdate, closeMenu, focusMessage, jumpTo, liFor, refreshMessageEl, rerenderCurrent, updateRoomChrome } from './messages.js';
import { joinErrorText, markMuted, sessionLost, startSession, updateComposer, updateIdentity } from './session.js';
import { ADMIN_KEY, localStore, readJSON, sessionStore, THEME_KEY, writeJSON } from '../storage.js';
import { excerpt, nameProblem } from '../text.js';
import { plainText } from '../format.js';
import { fmtTime } from '../time.js';

export function onMenuClick(ev) {
  var item = ev.target.closest('[data-action]');
  if (!item || !S.menu) return;
  var action = item.getAttribute('data-action'), at = S.menu;
  closeMenu(false);
  var m = roomState(at.room).msgs.get(at.id);
  if (!m || isRemoved(m)) { if (at.button.isConnected) at.button.focus(); return; }
  if (action === 'reply') setReply({ room: at.room, id: m.id });
  else if (action === 'react') openPalette(at.room, m);
  else if (action === 'edit') startEdit(at.room, m);
  else if (action === 'remove') askRemove(at.room, m, at.button);
  else if (action === 'mute') openMute(at.room, m, at.button);
}

/* ---------- replying and reacting ----------
 * A reply: the composer shows what it answers (#reply-bar) until it is
 * sent or cancelled; the pending message carries reply_to (sync.js).
 * A reaction: a click on an emoji button (under a message, or in its
 * palette) adds or withdraws mine; the event the server appends is shown
 * at once, and everyone else's page gets it from its poll. */

// The message the composer answers (null: none).
export function setReply(to) {
  S.replyTo = to;
  var m = to && roomState(to.room).msgs.get(to.id);
  ui.replyBar.hidden = !m;
  if (!m) { S.replyTo = null; ui.replyText.textContent = ''; return; }
  ui.replyText.textContent = 'Replying to ' + m.author + ': ' + excerpt(plainText(m.body), 60);
  ui.input.focus();
}

function openPalette(room, m) {
  var prev = S.reacting;
  S.reacting = { room: room, id: m.id };
  if (prev && prev.id !== m.id && roomState(prev.room).msgs.get(prev.id)) refreshMessageEl(roomState(prev.room).msgs.get(prev.id));
  refreshMessageEl(m);
  var li = liFor(m.id), first = li && li.querySelector('.palette button');
  if (first) first.focus();
}

function closePalette(focus) {
  var at = S.reacting;
  S.reacting = null;
  var m = at && roomState(at.room).msgs.get(at.id);
  if (!m) return;
  refreshMessageEl(m);
  var li = liFor(m.id);
  if (li && focus) focusMessage(li);
}

// Clicks inside the message list: an emoji button, a reply's quote, the
// palette's Close.
export function onListClick(ev) {
  var b = ev.target.closest('button');
  if (!b || !S.current) return;
  var li = b.closest('li.message');
  var id = li ? Number(li.getAttribute('data-id')) : NaN;
  if (b.hasAttribute('data-jump')) jumpTo(Number(b.getAttribute('data-jump')));
  else if (b.hasAttribute('data-palette-close')) closePalette(true);
  else if (b.hasAttribute('data-react') && !isNaN(id)) {
    var inPalette = !!b.closest('.palette');
    react(S.current, id, b.getAttribute('data-react'), b.getAttribute('data-on') === '1');
    if (inPalette) closePalette(true);
  }
}

export function onListKey(ev) {
  if (ev.key === 'Escape' && S.reacting && ev.target.closest && ev.target.closest('.palette')) {
    ev.preventDefault();
    closePalette(true);
  }
}

function react(room, id, emoji, on) {
  if (!sessionValid()) { updateIdentity(); return; }
  api('POST', messagePath(room, id) + '/reactions', { emoji: emoji, on: on }, S.session.token).then(function (data) {
    if (data && data.event) addMessages(room, [data.event]);
  }, function (e) {
    if (e.status === 401 || e.code === 'name_claimed') { sessionLost(e, '.'); return; }
    if (e.code === 'muted') { markMuted(room, e.until); return; }
    announce(e.status === 429 ? 'Slow down: you are reacting too fast. Try again in a moment.'
      : 'Your reaction was not saved: ' + e.message, true);
  });
}

/* ---------- the theme ----------
 * The system's (no attribute), or light or dark chosen here and kept in
 * localStorage; the button cycles system, light, dark and says which is
 * on. style.css picks the colours by html[data-theme]. */

var THEMES = ['system', 'light', 'dark'];

// The theme given, else the one kept.
export function applyTheme(theme) {
  if (theme === undefined) theme = readJSON(localStore(), THEME_KEY);
  if (THEMES.indexOf(theme) < 0) theme = 'system';
  if (theme === 'system') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
  ui.themeButton.textContent = 'Theme: ' + theme;
  ui.themeButton.setAttribute('aria-label', 'Theme: ' + theme + '. Change the theme');
  writeJSON(localStore(), THEME_KEY, theme === 'system' ? null : theme);
}

export function nextTheme() {
  var now = document.documentElement.dataset.theme || 'system';
  applyTheme(THEMES[(THEMES.indexOf(now) + 1) % THEMES.length]);
}

/* ---------- editing one's own message ----------
 * In place: the body gives way to a textarea.edit-body (the .body stays in
 * the element, hidden, so the message still reads the same to anything
 * that inspects it). Enter saves, Shift+Enter is a new line, Escape
 * cancels. The server decides whether the edit window is still open (and
 * whether the person is muted); its refusal is shown next to the editor. */

// ArrowUp in an empty composer: edit my newest message that I may still
// edit; false when there is none.
export function editLast() {
  if (!S.current) return false;
  var st = roomState(S.current), best = null;
  st.msgs.forEach(function (m) {
    if ((!best || m.id > best.id) && menuItems(m).some(function (it) { return it.action === 'edit'; })) best = m;
  });
  if (!best) return false;
  startEdit(S.current, best);
  return true;
}

function startEdit(room, m) {
  if (S.editing) stopEdit(false);
  S.editing = { room: room, id: m.id, draft: String(m.body), busy: false, error: '' };
  refreshMessageEl(m);
  var li = liFor(m.id);
  var area = li && li.querySelector('textarea.edit-body');
  if (!area) return;
  area.focus();
  area.setSelectionRange(area.value.length, area.value.length);
  sizeEditor(area);
}

export function attachEditor(li, body) {
  var ed = S.editing;
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
  var li = ed.room === S.current ? liFor(ed.id) : null;
  var el = li && li.querySelector('.edit-error');
  if (!el) return;
  el.textContent = ed.error;
  el.hidden = !ed.error;
}

function setEditorBusy(ed, busy) {
  var li = ed.room === S.current ? liFor(ed.id) : null;
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
  var ed = S.editing;
  if (!ed || ed.busy) return;
  S.editing = null;
  var m = roomState(ed.room).msgs.get(ed.id);
  if (!m || ed.room !== S.current) return;
  refreshMessageEl(m);
  if (focus) { var li = liFor(ed.id); if (li) focusMessage(li); }
  updateRoomChrome();
}

function saveEdit() {
  var ed = S.editing;
  if (!ed || ed.busy) return;
  var st = roomState(ed.room), m = st.msgs.get(ed.id);
  if (!m || isRemoved(m)) { S.editing = null; if (m) refreshMessageEl(m); return; }
  var text = ed.draft.trim();
  var n = Array.from(text).length;
  if (!text) { showEditError(ed, 'A message cannot be empty. To take it back, use Remove instead.'); return; }
  if (n > MAX_BODY) { showEditError(ed, 'Messages can be at most ' + MAX_BODY + ' characters (this one has ' + n + ').'); return; }
  if (text === m.body) { stopEdit(true); return; }
  if (!sessionValid()) { showEditError(ed, 'Your session expired. Join again to edit your messages.'); updateIdentity(); return; }
  ed.busy = true;
  showEditError(ed, '');
  setEditorBusy(ed, true);
  api('PATCH', messagePath(ed.room, ed.id), { body: text }, S.session.token).then(function (data) {
    ed.busy = false;
    if (S.editing === ed) S.editing = null;
    var now = st.msgs.get(ed.id);
    if (!now) return;
    var reply = data && data.message;
    var next = reply && reply.id === ed.id ? updatedState(now, reply) : null;
    if (!next && !isRemoved(now) && now.body !== text) {
      next = Object.assign({}, now, { body: text, edited_at: (reply && reply.edited_at) || new Date().toISOString() });
    }
    if (next) st.msgs.set(ed.id, next);
    if (ed.room !== S.current) return;
    var keepFocus = !document.activeElement || document.activeElement === document.body ||
      (liFor(ed.id) && liFor(ed.id).contains(document.activeElement));
    refreshMessageEl(next || now);
    var li = liFor(ed.id);
    if (li && keepFocus) focusMessage(li);
    updateRoomChrome();
  }, function (e) {
    ed.busy = false;
    if (S.editing !== ed) { announce('Your edit was not saved: ' + e.message, true); return; }
    if (e.status === 401) {
      S.editing = null;
      sessionLost(e, '.');
      return;
    }
    setEditorBusy(ed, false);
    // A mute is said once, by the composer.
    if (e.code === 'muted') markMuted(ed.room, e.until);
    showEditError(ed, e.code === 'muted' ? 'Not saved: you are muted.' : e.message);
    var li = ed.room === S.current ? liFor(ed.id) : null;
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
export function closeDialog(d) {
  if (typeof d.close === 'function') { if (d.open) d.close(); }
  else { d.removeAttribute('open'); d.dispatchEvent(new Event('close')); }
}
export function restoreFocus(el, room, id) {
  if (el && el.isConnected && !el.disabled) { el.focus(); return; }
  var li = id != null && room === S.current ? liFor(id) : null;
  if (li) focusMessage(li); else ui.scroller.focus();
}
function setText(el, text) { el.textContent = text || ''; el.hidden = !text; }

function modRefused() {
  return S.adminToken ? 'The admin token was not accepted. Check it in Settings.' :
    'You were signed out as a moderator. Sign in again.';
}

// Removal: own messages with the session token, others' with the admin token.
function askRemove(room, m, returnTo) {
  var own = ownsMessage(m);
  S.confirmState = { room: room, id: m.id, own: own, returnTo: returnTo, busy: false };
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

export function doRemove() {
  var cs = S.confirmState;
  if (!cs || cs.busy) return;
  var token = cs.own ? (sessionValid() ? S.session.token : null) : modToken();
  if (!token) {
    setText(ui.confirmError, cs.own ? 'Your session expired. Join again to remove your messages.' :
      'Sign in as a moderator first.');
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
    if (cs.room === S.current) updateRoomChrome();
    if (S.confirmState === cs) closeDialog(ui.confirm);
    announce('Message removed.');
  }, function (e) {
    cs.busy = false;
    var text = e.status === 401 && !cs.own ? modRefused() : e.message;
    if (S.confirmState === cs && ui.confirm.open) {
      ui.confirmOk.disabled = false;
      setText(ui.confirmError, text);
    } else {
      announce('The message was not removed: ' + text, true);
    }
  });
}

// Mute the author of a message (moderators).
function openMute(room, m, returnTo) {
  S.muteState = { room: room, id: m.id, name: m.author, returnTo: returnTo, busy: false };
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

export function syncMuteButton() {
  ui.muteConfirm.textContent = ui.muteDuration.value === '0' ? 'Lift mute' : 'Mute';
}

function muteResult(mute) {
  var where = mute.room ? 'in #' + mute.room : 'everywhere';
  if (!mute.until) return mute.name + ' is no longer muted ' + where;
  return mute.name + ' is muted ' + where + ' until ' + fmtTime(mute.until).short;
}

export function doMute(ev) {
  ev.preventDefault();
  var ms = S.muteState;
  if (!ms || ms.busy) return;
  var token = modToken();
  if (!token) { setText(ui.muteError, 'Sign in as a moderator first.'); return; }
  var secs = parseInt(ui.muteDuration.value, 10) || 0;
  var room = ui.muteScope.value === 'everywhere' ? null : ms.room;
  ms.busy = true;
  ui.muteConfirm.disabled = true;
  setText(ui.muteError, '');
  api('POST', '/api/mutes', { name: ms.name, room: room, duration_secs: secs }, token).then(function (data) {
    ms.busy = false;
    var mute = (data && data.mute) || { name: ms.name, room: room, until: null };
    if (S.muteState === ms) closeDialog(ui.mute);
    announce(muteResult({ name: mute.name || ms.name, room: mute.room, until: mute.until }));
  }, function (e) {
    ms.busy = false;
    var text = e.status === 401 ? modRefused() : e.message;
    if (S.muteState === ms && ui.mute.open) {
      ui.muteConfirm.disabled = false;
      setText(ui.muteError, text);
    } else {
      announce(ms.name + ' was not muted: ' + text, true);
    }
  });
}

// Settings: the admin token, for this tab only (sessionStorage).
export function setAdminToken(token) {
  S.adminToken = token || null;
  writeJSON(sessionStore(), ADMIN_KEY, S.adminToken);
  updateComposer();
  closeMenu(false);
  rerenderCurrent();
}

export function openSettings() {
  ui.adminInput.value = S.adminToken || '';
  openDialog(ui.settings);
  ui.adminInput.focus();
}

/* ---------- a room for members only (moderators) ---------- */

export function toggleMembersOnly() {
  var room = S.current, r = roomInfo(room), token = modToken();
  if (!r || !token || ui.membersOnly.disabled) return;
  ui.membersOnly.disabled = true;
  api('PATCH', '/api/rooms/' + encodeURIComponent(room), { members_only: !r.members_only }, token).then(function (data) {
    // The list may be a newer one by now (polls replace it).
    var on = !!(data && data.room && data.room.members_only), now = roomInfo(room);
    if (now) now.members_only = on;
    updateComposer();
    announce('#' + roomTitle(room) + (on ? ' is for members now: guests can read but not write.' :
      ' is open to guests again.'));
  }, function (e) {
    announce('The room was not changed: ' + (e.status === 401 ? modRefused() : e.message), true);
  }).finally(function () { ui.membersOnly.disabled = false; });
}

/* ---------- changing a password ----------
 * Proven by the current password or, for a forgotten one, by a reset code
 * the operator gives. Also open to a person who is not signed in; the
 * reply is a new session, and the account's other sessions end. */

export function openPassword() {
  ui.pwName.value = S.session ? S.session.name : ui.nameInput.value.trim();
  ui.pwCurrent.value = ui.pwNew.value = '';
  ui.pwReset.checked = false;
  syncPasswordProof();
  setText(ui.pwError, '');
  S.pwReturn = document.activeElement;
  openDialog(ui.pw);
  (ui.pwName.value ? ui.pwCurrent : ui.pwName).focus();
}

export function syncPasswordProof() {
  var code = ui.pwReset.checked;
  ui.pwCurrentLabel.textContent = code ? 'Reset code' : 'Current password';
  ui.pwCurrent.autocomplete = code ? 'one-time-code' : 'current-password';
}

export function savePassword(ev) {
  ev.preventDefault();
  var name = ui.pwName.value.trim(), current = ui.pwCurrent.value, next = ui.pwNew.value, code = ui.pwReset.checked;
  var problem = nameProblem(name) ||
    (!current && (code ? 'Enter the reset code the operator gave you.' : 'Enter your current password.')) ||
    (Array.from(next).length < MIN_PASSWORD && 'Choose a new password of at least ' + MIN_PASSWORD + ' characters.');
  if (problem) { setText(ui.pwError, problem); return; }
  var body = { name: name, new_password: next };
  body[code ? 'reset_code' : 'password'] = current;
  ui.pwSave.disabled = true;
  setText(ui.pwError, '');
  api('POST', '/api/accounts/password', body).then(function (data) {
    S.pwReturn = null;
    closeDialog(ui.pw);
    startSession(data, name, S.session ? !!S.session.remember : ui.remember.checked);
    announce('Your password is changed. Your other devices were signed out.');
  }, function (e) {
    setText(ui.pwError, e.code === 'invalid_credentials' ?
      (code ? 'That reset code does not match, or it expired. Ask the operator for a new one.' :
        'That name and current password do not match an account.') : joinErrorText(e, name));
  }).finally(function () { ui.pwSave.disabled = false; });
}
