/* The open room's messages: the list and its elements, a message's menu,
 * pending messages, how events change messages (shown; model.js applies
 * them), day separators and grouping, mentions and their notifications,
 * the title. */

import { api, roomPath } from '../api.js';
import { isRemoved } from '../events.js';
import { announce, isAtBottom, make, showNotice, ui } from './dom.js';
import { hooks, OLDER_PAGE, presence, roomState, roomStates, roomTitle, S, savePending } from './state.js';
import { looksMine, menuItems, mergeEvents, reactionsOf, takePending, updateMessage } from './model.js';
import { excerpt, mentionsMe, orderNames } from '../text.js';
import { plainText, render as renderFormatted } from '../format.js';
import { dayKey, dayLabel, fmtTime, groupsWith, timeOf } from '../time.js';

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
  // Not an account's: anyone may take a guest's name after them.
  if (m.session && m.session.indexOf('account-') !== 0) meta.appendChild(make('span', 'tag', 'guest'));
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
  if (typeof m.reply_to === 'number') {
    li.setAttribute('data-reply-to', String(m.reply_to));
    li.appendChild(quoteEl(m.reply_to));
  }
  var body = renderBody(make('div', 'body'), String(m.body));
  li.appendChild(body);
  var reactions = reactionsEl(m);
  if (reactions) li.appendChild(reactions);
  if (S.reacting && S.reacting.room === S.current && S.reacting.id === m.id) li.appendChild(paletteEl(m));
  if (!mine && body.querySelector('.mention.me')) li.classList.add('mentions-me');
  if (S.editing && S.editing.room === S.current && S.editing.id === m.id) hooks.attachEditor(li, body);
  else if (menuItems(m).length) { li.classList.add('has-menu'); li.appendChild(menuButton(m)); }
  return li;
}

/* ---------- replies: the quote of what a message answers ----------
 * A button that jumps to the message it quotes (loading older pages until
 * it is there). Its text comes from the loaded message, else from one
 * page of one message asked for once (st.quoted), else "an earlier
 * message". A removed message is quoted as such, also when removed later:
 * the removal refreshes its replies (showMessage). */

function quotedMessage(st, id) {
  if (st.msgs.has(id)) return st.msgs.get(id);
  if (!st.quoted.has(id)) fetchQuote(st, id);
  return st.quoted.get(id) || null;
}

function fetchQuote(st, id) {
  st.quoted.set(id, null);
  api('GET', roomPath(st.id) + '?before=' + (id + 1) + '&limit=1').then(function (data) {
    var m = data && Array.isArray(data.messages) ? data.messages[0] : null;
    if (!m || m.id !== id) return;
    st.quoted.set(id, m);
    if (st.id === S.current) refreshReplies(id);
  }, function () { st.quoted.delete(id); });
}

function quoteEl(id) {
  var q = quotedMessage(roomState(S.current), id);
  var b = make('button', 'reply-quote');
  b.type = 'button';
  b.setAttribute('data-jump', String(id));
  var text;
  if (q && isRemoved(q)) { text = 'removed message'; b.classList.add('gone'); }
  else if (q) text = q.author + ': ' + excerpt(plainText(q.body), 80);
  else text = 'an earlier message';
  var mark = make('span', 'quote-mark', '↩');
  mark.setAttribute('aria-hidden', 'true');
  b.appendChild(mark);
  b.appendChild(document.createTextNode(' ' + text));
  b.setAttribute('aria-label', 'In reply to ' + text + '. Show it');
  return b;
}

function refreshReplies(id) {
  var st = roomState(S.current);
  ui.list.querySelectorAll('li.message[data-reply-to="' + Number(id) + '"]').forEach(function (li) {
    var m = st.msgs.get(Number(li.getAttribute('data-id')));
    if (m) refreshMessageEl(m);
  });
}

// Shows message `id` of the open room, loading older pages until it is
// there or the room's start is reached; it is scrolled to and flashed.
export function jumpTo(id) {
  var roomId = S.current, st = roomState(roomId);
  var li = liFor(id);
  if (li) {
    li.scrollIntoView({ block: 'center' });
    li.classList.remove('flash');
    void li.offsetWidth; // restarts the animation
    li.classList.add('flash');
    focusMessage(li);
    return;
  }
  if (st.atStart || !st.minId || id >= st.minId) { announce('That message is no longer there.', true); return; }
  loadOlder().then(function () { if (S.current === roomId && !st.loadingOlder) jumpTo(id); });
}

/* ---------- reactions ----------
 * Under a message, one button per emoji with its count: pressed when one of
 * them is mine, and clicking it adds or withdraws mine (actions.js, by the
 * data-react attributes). Who reacted is in its title and name. The
 * palette (from the menu's "Add reaction…") offers a few common emoji. */

export var PALETTE = ['👍', '❤️', '😂', '🎉', '😮', '😢', '🙏', '👀'];

function reactionsEl(m) {
  if (isRemoved(m)) return null;
  var list = reactionsOf(roomState(S.current), m.id);
  if (!list.length) return null;
  var box = make('div', 'reactions');
  list.forEach(function (r) {
    var b = make('button', 'reaction', r.emoji + ' ' + r.count);
    b.type = 'button';
    b.setAttribute('aria-pressed', r.mine ? 'true' : 'false');
    b.setAttribute('data-react', r.emoji);
    b.setAttribute('data-on', r.mine ? '0' : '1');
    b.title = r.names.join(', ');
    b.setAttribute('aria-label', r.emoji + ' ' + r.count + ': ' + r.names.join(', ') +
      (S.session ? (r.mine ? '. Withdraw yours' : '. Add yours') : ''));
    b.disabled = !S.session;
    box.appendChild(b);
  });
  return box;
}

function paletteEl(m) {
  var box = make('div', 'palette');
  box.setAttribute('role', 'group');
  box.setAttribute('aria-label', 'Add a reaction to the message from ' + m.author);
  var mine = reactionsOf(roomState(S.current), m.id);
  PALETTE.forEach(function (e) {
    var b = make('button', 'reaction', e);
    b.type = 'button';
    var on = mine.some(function (r) { return r.emoji === e && r.mine; });
    b.setAttribute('data-react', e);
    b.setAttribute('data-on', on ? '0' : '1');
    b.setAttribute('aria-pressed', on ? 'true' : 'false');
    box.appendChild(b);
  });
  var close = make('button', 'link-button palette-close', 'Close');
  close.type = 'button';
  close.setAttribute('data-palette-close', '');
  box.appendChild(close);
  return box;
}

/* ---------- a message's menu (what its items do: actions.js) ----------
 * One menu element, #message-menu, kept outside the live message list (so
 * opening it is not announced as a new message) and placed next to the
 * button of the message it acts on. Keyboard as in the WAI-ARIA menu
 * button pattern: Enter/Space/ArrowDown open it on the first item, ArrowUp
 * on the last; arrows, Home and End move; Escape (and Tab) close it and
 * return to the button. Built when opened, so "Edit" shows only while the
 * edit window is open. */

export function menuButton(m) {
  var b = make('button', 'message-menu');
  b.type = 'button';
  b.setAttribute('aria-haspopup', 'menu');
  b.setAttribute('aria-expanded', 'false');
  b.setAttribute('aria-label', 'Actions for message from ' + m.author);
  var icon = make('span', null, '⋯');
  icon.setAttribute('aria-hidden', 'true');
  b.appendChild(icon);
  b.addEventListener('click', function () {
    if (S.menu && S.menu.button === b) closeMenu(true); else openMenu(b, 'first');
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
  var m = li && S.current ? roomState(S.current).msgs.get(Number(li.getAttribute('data-id'))) : null;
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
  S.menu = { button: button, room: S.current, id: m.id };
  button.setAttribute('aria-expanded', 'true');
  button.setAttribute('aria-controls', 'message-menu');
  li.classList.add('menu-open');
  positionMenu();
  var all = menuEntries();
  if (S.menu) (which === 'last' ? all[all.length - 1] : all[0]).focus();
}

export function closeMenu(returnFocus) {
  if (!S.menu) return;
  var b = S.menu.button;
  S.menu = null;
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
export function positionMenu() {
  if (!S.menu) return;
  var b = S.menu.button;
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

export function onMenuKey(ev) {
  if (!S.menu) return;
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

/* ---------- pending messages ---------- */

export function pendingEl(p) {
  var li = make('li', 'message pending mine');
  li.setAttribute('data-client-id', p.client_id);
  li.setAttribute('data-author', String(p.author));
  li.setAttribute('data-time', String(p.created));
  var meta = make('div', 'meta');
  meta.appendChild(make('span', 'author', p.author));
  meta.appendChild(make('span', 'state'));
  li.appendChild(meta);
  if (p.reply_to && p.room === S.current) li.appendChild(quoteEl(p.reply_to));
  li.appendChild(renderBody(make('div', 'body'), p.body));
  p.el = li;
  updatePendingEl(p);
  return li;
}

export function updatePendingEl(p) {
  var li = p.el;
  if (!li) return;
  var state = li.querySelector('.state');
  state.textContent = '';
  li.classList.toggle('failed', p.state === 'failed');
  if (p.state !== 'failed') { state.textContent = 'sending…'; return; }
  state.appendChild(document.createTextNode(p.auto ?
    'not sent yet, will retry automatically · ' : 'not sent' + (p.error ? ' (' + p.error + ')' : '') + ' · '));
  if (!p.muted) {
    var retry = make('button', 'retry link-button', 'retry');
    retry.type = 'button';
    retry.title = p.error ? 'Error: ' + p.error : 'Retry sending';
    retry.addEventListener('click', function () { hooks.retryPending(p); });
    state.appendChild(retry);
  }
  if (!p.auto) {
    if (!p.muted) state.appendChild(document.createTextNode(' · '));
    var drop = make('button', 'discard link-button', 'discard');
    drop.type = 'button';
    drop.addEventListener('click', function () { removePending(roomState(p.room), p.client_id); updateRoomChrome(); });
    state.appendChild(drop);
  }
}

function firstPendingEl() { return ui.list.querySelector('li.pending'); }

export function liFor(id) { return ui.list.querySelector('li.message[data-id="' + Number(id) + '"]'); }

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

export function removePending(st, clientId) { dropPendingEl(takePending(st, clientId)); }

function dropPendingEl(p) {
  if (!p) return;
  if (p.el && p.el.parentNode) p.el.parentNode.removeChild(p.el);
  p.el = null;
  savePending();
}

// Adds a room's events to it (model.js), shown at once when the room is
// open. opts.older: a page of history; opts.live: new events from a poll.
export function addMessages(roomId, msgs, opts) {
  var st = roomState(roomId);
  var visible = roomId === S.current;
  var older = !!(opts && opts.older);
  var live = !!(opts && opts.live) && !older;
  var follow = visible && !older && isAtBottom();
  var below = 0;
  var n = mergeEvents(st, msgs, {
    settled: dropPendingEl,
    changed: showMessage,
    added: function (m) {
      if (visible && insertMessageEl(messageEl(m), m.id) && !older) below++;
      if (live) noteMention(roomId, m);
    }
  });
  if (visible) {
    updateRoomChrome();
    if (follow && (n.added || n.changed)) scrollToBottom();
    else if (below && !older) {
      st.newBelow += below;
      ui.jump.textContent = st.newBelow + (st.newBelow === 1 ? ' new message ↓' : ' new messages ↓');
      ui.jump.hidden = false;
    }
  }
  return n.added;
}

export function renderRoom() {
  var st = roomState(S.current);
  closeMenu(false);
  var frag = document.createDocumentFragment();
  var ids = Array.from(st.msgs.keys()).sort(function (a, b) { return a - b; });
  ids.forEach(function (id) { frag.appendChild(messageEl(st.msgs.get(id))); });
  st.pending.forEach(function (p) { frag.appendChild(pendingEl(p)); });
  ui.list.textContent = '';
  ui.list.appendChild(frag);
  ui.input.placeholder = 'Message #' + roomTitle(S.current);
  ui.replyBar.hidden = !(S.replyTo && S.replyTo.room === S.current);
  updateRoomChrome();
  if (st.atBottom || st.scrollTop == null) scrollToBottom();
  else ui.scroller.scrollTop = st.scrollTop;
  ui.jump.hidden = !st.newBelow;
}

export function rerenderCurrent() {
  if (!S.current) return;
  var st = roomState(S.current);
  st.atBottom = isAtBottom();
  st.scrollTop = ui.scroller.scrollTop;
  renderRoom();
}

export function scrollToBottom() {
  ui.scroller.scrollTop = ui.scroller.scrollHeight;
  if (S.current) roomState(S.current).newBelow = 0;
  ui.jump.hidden = true;
}

export function updateRoomChrome() {
  var st = roomState(S.current);
  var count = st.msgs.size + st.pending.size;
  placeDivider(st);
  relayout();
  ui.empty.textContent = st.loaded ? 'No messages yet. Say hi!' : 'Loading…';
  ui.empty.hidden = count > 0;
  ui.loadOlder.hidden = !(st.loaded && !st.atStart && st.msgs.size > 0);
  ui.loadOlder.disabled = st.loadingOlder;
  ui.loadOlder.textContent = st.loadingOlder ? 'Loading…' : 'Load older messages';
  ui.historyStart.hidden = !(st.loaded && st.atStart && st.msgs.size > 0);
}

// Loads the page before the oldest loaded message; the promise settles
// when it is shown (at once when there is nothing to load).
export function loadOlder() {
  var roomId = S.current;
  var st = roomState(roomId);
  if (!st.loaded || st.loadingOlder || st.atStart) return Promise.resolve();
  if (!st.minId) { st.atStart = true; updateRoomChrome(); return Promise.resolve(); }
  st.loadingOlder = true;
  updateRoomChrome();
  return api('GET', roomPath(roomId) + '?before=' + st.minId + '&limit=' + OLDER_PAGE).then(function (data) {
    var msgs = Array.isArray(data.messages) ? data.messages : [];
    var all = Array.isArray(data.reactions) ? msgs.concat(data.reactions) : msgs;
    if (msgs.length < OLDER_PAGE) st.atStart = true;
    st.loadingOlder = false;
    if (roomId === S.current) {
      // Keep what the reader looks at in place: the message that was first
      // stays where it was on screen. (Measured on that message, not on the
      // added height: it may join the group of the older ones above and
      // lose its name line, and the day's separator moves up.)
      var s = ui.scroller;
      var anchor = ui.list.querySelector('li.message');
      var anchorTop = anchor ? anchor.getBoundingClientRect().top : 0;
      var h = s.scrollHeight, top = s.scrollTop;
      addMessages(roomId, all, { older: true });
      if (anchor && anchor.isConnected) s.scrollTop = top + (anchor.getBoundingClientRect().top - anchorTop);
      else s.scrollTop = top + (s.scrollHeight - h);
    } else {
      addMessages(roomId, all, { older: true });
    }
  }, function (e) {
    st.loadingOlder = false;
    if (roomId === S.current) showNotice('Could not load older messages: ' + e.message);
  }).finally(function () {
    if (roomId === S.current) updateRoomChrome();
  });
}

// Message text, formatted (bold, italic, code, quotes, links, @mentions:
// format.js), built as DOM nodes only, never from HTML.
function renderBody(el, text) {
  return renderFormatted(document, el, text, knownNames(), S.session ? S.session.name : null);
}

/* ---------- edits and removals: showing them ---------- */

export function applyUpdate(st, id, upd) { return updateMessage(st, id, upd, showMessage); }

// Shows a message's new state when its room is open. An open editor for
// it stays (it shows the new state when it closes), unless the message
// was removed.
function showMessage(st, m) {
  if (st.id !== S.current) return;
  if (S.editing && S.editing.room === st.id && S.editing.id === m.id) {
    if (!isRemoved(m)) return;
    S.editing = null;
    announce('The message you were editing was removed.');
  }
  refreshMessageEl(m);
  refreshReplies(m.id);
}

// Replaces a shown message's element; focus inside it (or in its open
// menu) moves to the same place in the new one.
export function refreshMessageEl(m) {
  var old = liFor(m.id);
  if (!old) return;
  var hadFocus = old.contains(document.activeElement);
  if (S.menu && S.menu.id === m.id) {
    if (ui.menu.contains(document.activeElement)) hadFocus = true;
    closeMenu(false);
  }
  var li = messageEl(m);
  if (old.classList.contains('grouped')) li.classList.add('grouped');
  old.parentNode.replaceChild(li, old);
  if (hadFocus) focusMessage(li);
}

export function focusMessage(li) {
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

/* The unread line: "New since you were last here", above the first
 * message (not one's own) after the room's read mark when it was opened
 * (st.readMark, rooms.js). It stays while the room is open; opening the
 * room again moves the mark. */
function placeDivider(st) {
  var old = ui.list.querySelector('li.unread-divider');
  var first = null;
  if (typeof st.readMark === 'number') {
    var els = ui.list.querySelectorAll('li.message[data-id]');
    for (var i = 0; i < els.length && !first; i++) {
      var m = st.msgs.get(Number(els[i].getAttribute('data-id')));
      if (m && m.id > st.readMark && !looksMine(m)) first = els[i];
    }
  }
  if (!first) { if (old) old.remove(); return; }
  if (old && old.nextElementSibling === first) return;
  var li = old || make('li', 'unread-divider');
  if (!old) li.appendChild(make('span', null, 'New since you were last here'));
  ui.list.insertBefore(li, first);
}

// Scrolls the unread line into view, near the top; false when there is none.
export function showDivider() {
  var li = ui.list.querySelector('li.unread-divider');
  if (!li) return false;
  ui.scroller.scrollTop += li.getBoundingClientRect().top - ui.scroller.getBoundingClientRect().top - 16;
  return true;
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
    // The unread line stays right above its message, below the day's label.
    var divided = !!(el.previousElementSibling && el.previousElementSibling.classList.contains('unread-divider'));
    var at = divided ? el.previousElementSibling : el;
    if (!prev || prev.day !== item.day) {
      var sep = spare.get(item.day);
      if (!sep || used.has(sep)) sep = separatorEl(item.day);
      used.add(sep);
      if (at.previousElementSibling !== sep) list.insertBefore(sep, at);
      var label = dayLabel(item.day, t);
      if (sep.firstElementChild.textContent !== label) sep.firstElementChild.textContent = label;
    } else {
      grouped = !divided && groupsWith(prev, item);
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
  var st = S.current ? roomStates[S.current] : null;
  var own = S.session ? S.session.name : '';
  var key = [own, S.current || '', st ? st.authorsVersion : 0, presence.shownKey || ''].join('\u0000');
  if (namesCache.key === key) return namesCache.list;
  var list = orderNames([own].concat(st ? Array.from(st.authors) : [], presence.names));
  namesCache = { key: key, list: list };
  return list;
}

var notifyAskedFor = null; // the Notification object already asked for permission

/* ---------- notifications of mentions ----------
 * Only for a new message from someone else that mentions me while the tab
 * is hidden: a count in the tab title (cleared when the tab is shown
 * again) and, if the person allowed it, a system notification. Permission
 * is asked only after a click (on Join or Send), never on load: browsers
 * ignore or penalise prompts without a user gesture. window.Notification
 * is read at the moment of use. */

export function updateTitle() {
  var base = S.current ? roomTitle(S.current) + ' · Chat' : 'Chat';
  document.title = (S.mentionCount > 0 ? '(' + S.mentionCount + ') ' : '') + base;
}

function noteMention(roomId, m) {
  if (!S.session || looksMine(m) || m.author === S.session.name) return;
  if (document.visibilityState !== 'hidden' || !mentionsMe(m.body, knownNames(), S.session.name)) return;
  S.mentionCount++;
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

export function askNotificationPermission() {
  var N = window.Notification;
  if (!N || N === notifyAskedFor || N.permission !== 'default' || typeof N.requestPermission !== 'function') return;
  notifyAskedFor = N;
  try {
    var r = N.requestPermission();
    if (r && typeof r.then === 'function') r.then(null, function () {});
  } catch (e) { /* an old callback-only API: nothing to wait for */ }
}
