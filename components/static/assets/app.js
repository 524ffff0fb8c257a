/* The chat page: plain JavaScript modules, no dependencies, no build step.
 * This module wires the page's events and starts it. The page is in
 * js/page/, in layers; a module imports only layers before its own
 * (tests/layers.test.js):
 *   dom.js       the elements (found at start), make(), small DOM helpers
 *   state.js     settings and shared state, what is kept in storage; no DOM
 *   model.js     events merged into rooms, pending sends, unread counts,
 *                presence, what is mine; no DOM (unit-tested under Node)
 *   views, in this order:
 *     messages.js  the open room's messages, a message's menu, days,
 *                  mentions, the title
 *     rooms.js     the room list, switching rooms, presence
 *     session.js   joining, signing in, accounts; what the composer's
 *                  place shows (the composer, the join form, a closed room)
 *     actions.js   what the menu does: editing, the dialogs (removal,
 *                  mute, settings, password), a members-only room
 *   sync.js      polling, the connection status, sending
 *   app.js       this; it fills in state.js's hooks, by which a view calls
 *                a later layer
 * The parts without a DOM are modules of their own in js/, unit-tested
 * under Node (components/static/tests), used by any layer:
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

import { announce, findElements, isAtBottom, ui } from './js/page/dom.js';
import { clearSession, hooks, poll, roomState, S } from './js/page/state.js';
import { askNotificationPermission, closeMenu, loadOlder, onMenuKey, positionMenu, rerenderCurrent, scrollToBottom, updateTitle } from './js/page/messages.js';
import { enterPresence, leavePresence, loadRooms, onHashChange, stepRoom, summariseHidden } from './js/page/rooms.js';
import { composerError, join, joinButtonText, showComposer, showJoin, updateComposer } from './js/page/session.js';
import { applyTheme, nextTheme, editLast, attachEditor, closeDialog, doMute, doRemove, onListClick, onListKey, onMenuClick, openPassword, openSettings, restoreFocus, savePassword, setAdminToken, setReply, syncMuteButton, syncPasswordProof, toggleMembersOnly } from './js/page/actions.js';
import { autosize, flushPending, loadReadMarks, reconnectNow, restorePending, retryPending, schedulePoll, send, setStatus, stopCountdown, tickStatus } from './js/page/sync.js';

/* ---------- wiring ---------- */

findElements();
applyTheme();
hooks.schedulePoll = schedulePoll;
hooks.flushPending = flushPending;
hooks.retryPending = retryPending;
hooks.attachEditor = attachEditor;

hooks.updateComposer = updateComposer;
hooks.loadReadMarks = loadReadMarks;

ui.joinForm.addEventListener('submit', function (ev) { join(ev, false); });
ui.createAccount.addEventListener('click', function () { join(null, true); });
ui.passwordInput.addEventListener('input', joinButtonText);
ui.joinCancel.addEventListener('click', function () { ui.nameInput.value = ''; showComposer(true); });
ui.changeName.addEventListener('click', function () {
  ui.nameInput.value = S.session ? S.session.name : '';
  showJoin('', false, true);
});
ui.closedSignIn.addEventListener('click', function () { showJoin('', false); });
ui.membersOnly.addEventListener('click', toggleMembersOnly);
ui.changePassword.addEventListener('click', openPassword);
ui.joinPassword.addEventListener('click', openPassword);
ui.pwForm.addEventListener('submit', savePassword);
ui.pwReset.addEventListener('change', syncPasswordProof);
ui.pwCancel.addEventListener('click', function () { closeDialog(ui.pw); });
ui.pw.addEventListener('close', function () {
  var el = S.pwReturn;
  S.pwReturn = null;
  ui.pwCurrent.value = ui.pwNew.value = '';
  if (el && el.isConnected && !el.hidden) el.focus();
});
ui.signOut.addEventListener('click', function () {
  leavePresence(S.session && S.session.token);
  clearSession();
  ui.nameInput.value = '';
  showJoin('');
  rerenderCurrent();
});

ui.composer.addEventListener('submit', function (ev) { ev.preventDefault(); send(); ui.input.focus(); });
ui.input.addEventListener('keydown', function (ev) {
  if (ev.key === 'ArrowUp' && !ev.altKey && !ev.shiftKey && !ev.ctrlKey && !ev.metaKey && !ui.input.value && editLast()) {
    ev.preventDefault();
    return;
  }
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
    ev.preventDefault();
    send();
  }
});
ui.input.addEventListener('input', function () { autosize(); composerError(''); });
// A click on Join or Send is the gesture that may ask for notifications
// (pressing Enter in the name field clicks Join too).
ui.joinButton.addEventListener('click', askNotificationPermission);
ui.createAccount.addEventListener('click', askNotificationPermission);
ui.sendButton.addEventListener('click', askNotificationPermission);

ui.loadOlder.addEventListener('click', loadOlder);
ui.list.addEventListener('click', onListClick);
ui.list.addEventListener('keydown', onListKey);
ui.replyCancel.addEventListener('click', function () { setReply(null); ui.input.focus(); });
ui.jump.addEventListener('click', function () { scrollToBottom(); ui.input.focus(); });
ui.scroller.addEventListener('scroll', function () {
  var s = ui.scroller;
  if (s.scrollTop < 24 && s.scrollHeight > s.clientHeight + 24) loadOlder();
  if (isAtBottom() && S.current && roomState(S.current).newBelow) { roomState(S.current).newBelow = 0; ui.jump.hidden = true; }
  if (S.menu) positionMenu();
}, { passive: true });

// The message menu.
ui.menu.addEventListener('keydown', onMenuKey);
ui.menu.addEventListener('click', onMenuClick);
ui.menu.addEventListener('focusout', function (ev) {
  var to = ev.relatedTarget;
  if (S.menu && to && !ui.menu.contains(to) && to !== S.menu.button) closeMenu(false);
});
document.addEventListener('pointerdown', function (ev) {
  if (S.menu && !ui.menu.contains(ev.target) && !S.menu.button.contains(ev.target)) closeMenu(false);
});
window.addEventListener('resize', function () { if (S.menu) positionMenu(); summariseHidden(); });
ui.roomsNav.addEventListener('scroll', summariseHidden, { passive: true });
ui.roomsMore.addEventListener('click', function () { ui.roomsNav.scrollBy({ left: ui.roomsNav.clientWidth * 0.8, behavior: 'smooth' }); });
ui.roomsLess.addEventListener('click', function () { ui.roomsNav.scrollBy({ left: -ui.roomsNav.clientWidth * 0.8, behavior: 'smooth' }); });

// Dialogs.
ui.confirmOk.addEventListener('click', doRemove);
ui.confirmCancel.addEventListener('click', function () { closeDialog(ui.confirm); });
ui.confirm.addEventListener('close', function () {
  var cs = S.confirmState;
  S.confirmState = null;
  if (cs) restoreFocus(cs.returnTo, cs.room, cs.id);
});
ui.muteForm.addEventListener('submit', doMute);
ui.muteDuration.addEventListener('change', syncMuteButton);
ui.muteCancel.addEventListener('click', function () { closeDialog(ui.mute); });
ui.mute.addEventListener('close', function () {
  var ms = S.muteState;
  S.muteState = null;
  if (ms) restoreFocus(ms.returnTo, ms.room, ms.id);
});
ui.settingsButton.addEventListener('click', openSettings);
ui.themeButton.addEventListener('click', nextTheme);
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

ui.reconnect.addEventListener('click', reconnectNow);
window.addEventListener('hashchange', onHashChange);
// Alt+ArrowUp/Down moves between rooms from anywhere but a dialog.
document.addEventListener('keydown', function (ev) {
  if (!ev.altKey || ev.ctrlKey || ev.metaKey || ev.shiftKey || (ev.key !== 'ArrowUp' && ev.key !== 'ArrowDown')) return;
  if (document.querySelector('dialog[open]')) return;
  ev.preventDefault();
  stepRoom(ev.key === 'ArrowUp' ? -1 : 1);
});
window.addEventListener('online', function () {
  stopCountdown();
  setStatus('connecting', 'connecting…');
  schedulePoll(0);
});
window.addEventListener('offline', function () { if (poll.failures) tickStatus(); else setStatus('offline', 'offline'); });
document.addEventListener('visibilitychange', function () {
  if (document.hidden) return;
  // Seen now: the mention count leaves the title.
  if (S.mentionCount) { S.mentionCount = 0; updateTitle(); }
  // Back in view: catch up now (rooms too) unless we are waiting out a backoff.
  if (!poll.failures) schedulePoll(0);
});
// Leaving the page: leave the room. Back from the back/forward cache: enter it again.
window.addEventListener('pagehide', function () { leavePresence(S.session && S.session.token); });
window.addEventListener('pageshow', function (ev) { if (ev.persisted && S.current) enterPresence(S.current); });

restorePending();
if (S.session) showComposer(false); else showJoin('');
loadRooms();
onHashChange();
loadReadMarks();
