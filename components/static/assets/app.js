/* Chat UI: plain JavaScript, no dependencies, no build step.
 * Every name and message body is rendered as text (textContent), never as HTML.
 * The session token lives in sessionStorage (localStorage with "remember me")
 * and travels only in the Authorization header, never in the URL. */
(function () {
  'use strict';

  var SESSION_KEY = 'chat.session';
  var SEEN_KEY = 'chat.seen';        // localStorage: last seen message id per room
  var PENDING_KEY = 'chat.pending';  // sessionStorage: messages not yet stored
  var DEFAULT_ROOM = 'general';
  // One request per poll (GET /api/poll): the open room's new messages and
  // every room's newest id (for unread counts) come together.
  var POLL_MS = 1000;                // while the tab is visible
  var HIDDEN_POLL_MS = 10000;        // while it is hidden
  var ROOMS_RETRY_MS = 5000;         // the first room list, until it loads
  var MIN_BACKOFF_MS = 1000;
  var MAX_BACKOFF_MS = 15000;
  var PAGE = 100;
  var OLDER_PAGE = 50;
  var REQUEST_TIMEOUT_MS = 15000;
  var MAX_BODY = 2000;

  function $(id) { return document.getElementById(id); }
  var ui = {
    status: $('status'), statusLive: $('status-live'), identity: $('identity'), whoami: $('whoami'),
    changeName: $('change-name'), signOut: $('sign-out'),
    roomList: $('room-list'), roomsError: $('rooms-error'), roomTitle: $('room-title'),
    notice: $('notice'), scroller: $('messages'), loadOlder: $('load-older'),
    historyStart: $('history-start'), empty: $('empty'), list: $('message-list'), jump: $('jump'),
    joinForm: $('join-form'), nameInput: $('name-input'), remember: $('remember'),
    joinButton: $('join-button'), joinCancel: $('join-cancel'), joinError: $('join-error'),
    composer: $('composer'), input: $('message-input'), composerError: $('composer-error')
  };

  var session = loadSession();
  var seen = readJSON(localStore(), SEEN_KEY) || {};
  var rooms = [];
  var roomStates = Object.create(null);
  var current = null;
  var poll = { timer: null, inFlight: false, again: false, failures: 0, countdown: null, until: 0 };
  var roomsTimer = null;

  /* ---------- small helpers ---------- */

  function localStore() { try { return window.localStorage; } catch (e) { return null; } }
  function sessionStore() { try { return window.sessionStorage; } catch (e) { return null; } }
  function readJSON(store, key) {
    try { return store ? JSON.parse(store.getItem(key) || 'null') : null; } catch (e) { return null; }
  }
  function writeJSON(store, key, value) {
    try {
      if (!store) return;
      if (value == null) store.removeItem(key); else store.setItem(key, JSON.stringify(value));
    } catch (e) { /* storage full or disabled: keep going in memory */ }
  }

  function make(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text != null) n.textContent = String(text);
    return n;
  }

  function ApiError(status, code, message, retryAfter) {
    this.status = status; this.code = code; this.message = message; this.retryAfter = retryAfter;
  }

  function api(method, path, body, token) {
    var headers = { 'Accept': 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (token) headers['Authorization'] = 'Bearer ' + token;
    var ctrl = typeof AbortController === 'function' ? new AbortController() : null;
    var timer = ctrl ? setTimeout(function () { ctrl.abort(); }, REQUEST_TIMEOUT_MS) : null;
    return fetch(path, {
      method: method, headers: headers, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer',
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: ctrl ? ctrl.signal : undefined
    }).then(function (res) {
      return res.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (!res.ok) {
          var err = (data && data.error) || {};
          var ra = parseInt(res.headers.get('Retry-After') || '', 10);
          throw new ApiError(res.status, err.code || 'http_' + res.status,
            err.message || ('Request failed (' + res.status + ')'), isNaN(ra) ? 0 : ra);
        }
        return data || {};
      });
    }, function (e) {
      throw new ApiError(0, 'network', navigator.onLine === false ? 'You are offline' :
        (e && e.name === 'AbortError' ? 'Request timed out' : 'Network error'), 0);
    }).finally(function () { if (timer) clearTimeout(timer); });
  }

  // Worth retrying later: no answer, a timeout, overload or a server error.
  function transient(e) { return e.status === 0 || e.status === 408 || e.status === 429 || e.status >= 500; }

  // Exponential backoff with +-25% jitter.
  function backoff(attempt, retryAfter) {
    var base = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * Math.pow(2, Math.max(0, attempt - 1)));
    var d = Math.min(MAX_BACKOFF_MS, Math.max(500, base * (0.75 + Math.random() * 0.5)));
    return retryAfter ? Math.max(d, retryAfter * 1000) : d;
  }

  function roomPath(id) { return '/api/rooms/' + encodeURIComponent(id) + '/messages'; }
  function pollPath(id, after, known) {
    return '/api/poll?room=' + encodeURIComponent(id) + '&after=' + after + '&limit=' + PAGE +
      (known > after ? '&known=' + known : '');
  }

  function newClientId() {
    if (window.crypto && typeof crypto.randomUUID === 'function') {
      try { return crypto.randomUUID(); } catch (e) { /* insecure context */ }
    }
    var bytes = new Uint8Array(16);
    if (window.crypto && crypto.getRandomValues) crypto.getRandomValues(bytes);
    else for (var i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
    var hex = '';
    for (var j = 0; j < bytes.length; j++) hex += (bytes[j] < 16 ? '0' : '') + bytes[j].toString(16);
    return hex;
  }

  function fmtTime(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) return { short: '', full: '' };
    var t = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    var sameDay = d.toDateString() === new Date().toDateString();
    return {
      short: sameDay ? t : d.toLocaleDateString([], { month: 'short', day: 'numeric' }) + ', ' + t,
      full: d.toLocaleString()
    };
  }

  // Message text with http(s) links made clickable. Only text nodes and
  // anchors built here; the href is re-serialised by URL and must be http(s).
  var URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
  function safeHref(s) {
    try {
      var u = new URL(s);
      return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
    } catch (e) { return null; }
  }
  function renderBody(el, text) {
    var last = 0, m;
    URL_RE.lastIndex = 0;
    while ((m = URL_RE.exec(text)) !== null) {
      var link = m[0].replace(/[.,;:!?)\]}]+$/, '');
      var href = safeHref(link);
      if (!href) continue;
      if (m.index > last) el.appendChild(document.createTextNode(text.slice(last, m.index)));
      var a = make('a', null, link);
      a.href = href;
      a.rel = 'noopener noreferrer';
      a.target = '_blank';
      el.appendChild(a);
      last = m.index + link.length;
      URL_RE.lastIndex = last;
    }
    if (last < text.length) el.appendChild(document.createTextNode(text.slice(last)));
    return el;
  }

  function isAtBottom() {
    var s = ui.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 48;
  }
  function scrollToBottom() {
    ui.scroller.scrollTop = ui.scroller.scrollHeight;
    if (current) roomState(current).newBelow = 0;
    ui.jump.hidden = true;
  }

  function showNotice(text) {
    ui.notice.textContent = text || '';
    ui.notice.hidden = !text;
  }

  /* ---------- session ---------- */

  function loadSession() {
    var stores = [sessionStore(), localStore()];
    for (var i = 0; i < stores.length; i++) {
      var s = readJSON(stores[i], SESSION_KEY);
      if (!s || !s.token || !s.name) continue;
      if (s.expires_at && Date.parse(s.expires_at) <= Date.now()) { writeJSON(stores[i], SESSION_KEY, null); continue; }
      s.remember = i === 1;
      return s;
    }
    return null;
  }

  function saveSession(s) {
    session = s;
    writeJSON(s.remember ? localStore() : sessionStore(), SESSION_KEY,
      { token: s.token, name: s.name, expires_at: s.expires_at });
    writeJSON(s.remember ? sessionStore() : localStore(), SESSION_KEY, null);
  }

  function clearSession() {
    session = null;
    writeJSON(sessionStore(), SESSION_KEY, null);
    writeJSON(localStore(), SESSION_KEY, null);
  }

  function sessionValid() {
    if (!session) return false;
    if (session.expires_at && Date.parse(session.expires_at) <= Date.now()) { clearSession(); return false; }
    return true;
  }

  function updateIdentity() {
    var joined = !!session;
    ui.identity.hidden = !joined;
    ui.whoami.textContent = joined ? session.name : '';
  }

  function showJoin(message) {
    ui.joinForm.hidden = false;
    ui.composer.hidden = true;
    ui.joinCancel.hidden = !session;
    if (session && !ui.nameInput.value) ui.nameInput.value = session.name;
    ui.remember.checked = !!(session && session.remember);
    ui.joinError.textContent = message || '';
    ui.joinError.hidden = !message;
    updateIdentity();
    ui.nameInput.focus();
    ui.nameInput.select();
  }

  function showComposer(focus) {
    ui.joinForm.hidden = true;
    ui.composer.hidden = false;
    ui.joinError.hidden = true;
    updateIdentity();
    if (focus) ui.input.focus();
  }

  function validName(name) {
    var len = Array.from(name).length;
    if (len < 1) return 'Please enter a name.';
    if (len > 32) return 'Names can be at most 32 characters.';
    if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return 'Names can only contain printable characters.';
    return '';
  }

  function join(ev) {
    ev.preventDefault();
    var name = ui.nameInput.value.trim();
    var problem = validName(name);
    if (problem) { showJoin(problem); return; }
    ui.joinButton.disabled = true;
    ui.joinError.hidden = true;
    var remember = ui.remember.checked;
    api('POST', '/api/session', { name: name }).then(function (data) {
      saveSession({ token: data.token, name: data.name || name, expires_at: data.expires_at, remember: remember });
      ui.nameInput.value = '';
      showComposer(true);
      rerenderCurrent();
      flushPending(true);
    }, function (e) {
      showJoin(e.message || 'Could not join.');
    }).finally(function () { ui.joinButton.disabled = false; });
  }

  /* ---------- rooms and unread counts ---------- */

  function roomState(id) {
    var st = roomStates[id];
    if (!st) {
      st = roomStates[id] = {
        id: id, msgs: new Map(), minId: 0, cursor: 0, known: 0, loaded: false, atStart: false,
        loadingOlder: false, pending: new Map(), scrollTop: null, atBottom: true, newBelow: 0
      };
    }
    return st;
  }

  function roomTitle(id) {
    for (var i = 0; i < rooms.length; i++) if (rooms[i].id === id) return rooms[i].title || id;
    return id;
  }

  function markSeen(roomId, id) {
    if (!(id > (seen[roomId] || 0))) return;
    seen[roomId] = id;
    writeJSON(localStore(), SEEN_KEY, seen);
  }

  function unreadCount(r) {
    if (r.id === current || typeof r.last_message_id !== 'number') return 0;
    var st = roomStates[r.id];
    var last = Math.max(seen[r.id] || 0, st ? st.cursor : 0);
    return Math.max(0, r.last_message_id - last);
  }

  function scheduleRooms(ms) {
    clearTimeout(roomsTimer);
    roomsTimer = setTimeout(loadRooms, ms);
  }

  // The room list, from GET /api/rooms at start and then from every poll.
  // A room seen for the first time counts as unread only what arrives
  // after that moment: where the person starts is its newest id now, not
  // the beginning of its history.
  function setRooms(list) {
    if (!Array.isArray(list)) return;
    rooms = list;
    var changed = false;
    list.forEach(function (r) {
      if (typeof r.last_message_id === 'number' && typeof seen[r.id] !== 'number') {
        seen[r.id] = r.last_message_id;
        changed = true;
      }
    });
    if (changed) writeJSON(localStore(), SEEN_KEY, seen);
    ui.roomsError.hidden = true;
    renderRooms();
  }

  // Once at start, so the list shows before the first poll; polls keep it
  // current after that.
  function loadRooms() {
    roomsTimer = null;
    api('GET', '/api/rooms').then(function (data) {
      if (!rooms.length) setRooms(data.rooms);
    }, function (e) {
      if (rooms.length) return;
      ui.roomsError.textContent = 'Could not load rooms (' + e.message + '). Retrying…';
      ui.roomsError.hidden = false;
      scheduleRooms(Math.max(ROOMS_RETRY_MS, (e.retryAfter || 0) * 1000));
    });
  }

  function renderRooms() {
    var frag = document.createDocumentFragment();
    var list = rooms.slice();
    if (current && !list.some(function (r) { return r.id === current; })) list.push({ id: current, title: current });
    list.forEach(function (r) {
      var li = make('li', 'room');
      li.setAttribute('data-room', r.id);
      var a = make('a', null);
      a.href = '#/room/' + encodeURIComponent(r.id);
      a.appendChild(make('span', 'hash', '#'));
      a.appendChild(make('span', 'room-name', r.title || r.id));
      var n = unreadCount(r);
      if (n > 0) {
        li.classList.add('unread');
        var badge = make('span', 'badge', n > 99 ? '99+' : n);
        a.appendChild(badge);
        a.appendChild(make('span', 'visually-hidden', n === 1 ? ' unread message' : ' unread messages'));
      }
      if (r.id === current) { li.classList.add('active'); a.setAttribute('aria-current', 'page'); }
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
    ui.roomTitle.textContent = current ? '#' + roomTitle(current) : '';
    if (current) document.title = roomTitle(current) + ' · Chat';
  }

  function roomFromHash() {
    var m = /^#\/room\/([^/?#]+)$/.exec(location.hash || '');
    if (!m) return null;
    try { return decodeURIComponent(m[1]); } catch (e) { return null; }
  }

  function onHashChange() {
    var id = roomFromHash();
    if (!id) {
      id = current || DEFAULT_ROOM;
      history.replaceState(null, '', '#/room/' + encodeURIComponent(id));
    }
    switchRoom(id);
  }

  function switchRoom(id) {
    if (id === current) return;
    if (current) {
      var prev = roomState(current);
      prev.atBottom = isAtBottom();
      prev.scrollTop = ui.scroller.scrollTop;
    }
    current = id;
    showNotice('');
    renderRooms();
    renderRoom();
    if (poll.failures === 0) schedulePoll(0);
  }

  /* ---------- messages ---------- */

  function messageEl(m) {
    var li = make('li', 'message');
    li.setAttribute('data-id', String(m.id));
    if (m.client_id) li.setAttribute('data-client-id', m.client_id);
    if (session && m.author === session.name) li.classList.add('mine');
    var meta = make('div', 'meta');
    meta.appendChild(make('span', 'author', m.author));
    var t = fmtTime(m.sent_at);
    var time = make('time', 'time', t.short);
    time.setAttribute('datetime', m.sent_at || '');
    time.title = t.full;
    meta.appendChild(time);
    li.appendChild(meta);
    li.appendChild(renderBody(make('div', 'body'), String(m.body)));
    return li;
  }

  function pendingEl(p) {
    var li = make('li', 'message pending mine');
    li.setAttribute('data-client-id', p.client_id);
    var meta = make('div', 'meta');
    meta.appendChild(make('span', 'author', p.author));
    meta.appendChild(make('span', 'state'));
    li.appendChild(meta);
    li.appendChild(renderBody(make('div', 'body'), p.body));
    p.el = li;
    updatePendingEl(p);
    return li;
  }

  function updatePendingEl(p) {
    var li = p.el;
    if (!li) return;
    var state = li.querySelector('.state');
    state.textContent = '';
    li.classList.toggle('failed', p.state === 'failed');
    if (p.state !== 'failed') { state.textContent = 'sending…'; return; }
    state.appendChild(document.createTextNode(p.auto ?
      'not sent yet, will retry automatically · ' : 'not sent' + (p.error ? ' (' + p.error + ')' : '') + ' · '));
    var retry = make('button', 'retry link-button', 'retry');
    retry.type = 'button';
    retry.title = p.error ? 'Error: ' + p.error : 'Retry sending';
    retry.addEventListener('click', function () { retryPending(p); });
    state.appendChild(retry);
    if (!p.auto) {
      state.appendChild(document.createTextNode(' · '));
      var drop = make('button', 'discard link-button', 'discard');
      drop.type = 'button';
      drop.addEventListener('click', function () { removePending(roomState(p.room), p.client_id); updateRoomChrome(); });
      state.appendChild(drop);
    }
  }

  function firstPendingEl() { return ui.list.querySelector('li.pending'); }

  function insertMessageEl(li, id) {
    var fp = firstPendingEl();
    var node = fp ? fp.previousElementSibling : ui.list.lastElementChild;
    while (node && Number(node.getAttribute('data-id')) > id) node = node.previousElementSibling;
    ui.list.insertBefore(li, node ? node.nextElementSibling : ui.list.firstElementChild);
    return li.nextElementSibling === fp; // true when it went in at the bottom
  }

  function savePending() {
    var all = [];
    Object.keys(roomStates).forEach(function (id) {
      roomStates[id].pending.forEach(function (p) {
        all.push({ room: p.room, client_id: p.client_id, body: p.body, author: p.author });
      });
    });
    writeJSON(sessionStore(), PENDING_KEY, all.length ? all : null);
  }

  function removePending(st, clientId) {
    var p = st.pending.get(clientId);
    if (!p) return;
    st.pending.delete(clientId);
    if (p.el && p.el.parentNode) p.el.parentNode.removeChild(p.el);
    p.el = null;
    savePending();
  }

  // Adds messages to a room (deduplicated by id) and to the page when visible.
  function addMessages(roomId, msgs, opts) {
    var st = roomState(roomId);
    var visible = roomId === current;
    var older = !!(opts && opts.older);
    var follow = visible && !older && isAtBottom();
    var added = 0, below = 0;
    for (var i = 0; i < msgs.length; i++) {
      var m = msgs[i];
      if (!m || typeof m.id !== 'number') continue;
      var p = m.client_id && st.pending.get(m.client_id);
      if (p && p.author === m.author) removePending(st, m.client_id);
      if (st.msgs.has(m.id)) continue;
      st.msgs.set(m.id, m);
      if (!st.minId || m.id < st.minId) st.minId = m.id;
      added++;
      if (visible && insertMessageEl(messageEl(m), m.id) && !older) below++;
    }
    if (st.minId === 1) st.atStart = true;
    if (visible) {
      updateRoomChrome();
      if (follow && added) scrollToBottom();
      else if (below && !older) {
        st.newBelow += below;
        ui.jump.textContent = st.newBelow + (st.newBelow === 1 ? ' new message ↓' : ' new messages ↓');
        ui.jump.hidden = false;
      }
    }
    return added;
  }

  function renderRoom() {
    var st = roomState(current);
    var frag = document.createDocumentFragment();
    var ids = Array.from(st.msgs.keys()).sort(function (a, b) { return a - b; });
    ids.forEach(function (id) { frag.appendChild(messageEl(st.msgs.get(id))); });
    st.pending.forEach(function (p) { frag.appendChild(pendingEl(p)); });
    ui.list.textContent = '';
    ui.list.appendChild(frag);
    ui.input.placeholder = 'Message #' + roomTitle(current);
    updateRoomChrome();
    if (st.atBottom || st.scrollTop == null) scrollToBottom();
    else ui.scroller.scrollTop = st.scrollTop;
    ui.jump.hidden = !st.newBelow;
  }

  function rerenderCurrent() {
    if (!current) return;
    var st = roomState(current);
    st.atBottom = isAtBottom();
    st.scrollTop = ui.scroller.scrollTop;
    renderRoom();
  }

  function updateRoomChrome() {
    var st = roomState(current);
    var count = st.msgs.size + st.pending.size;
    ui.empty.textContent = st.loaded ? 'No messages yet. Say hi!' : 'Loading…';
    ui.empty.hidden = count > 0;
    ui.loadOlder.hidden = !(st.loaded && !st.atStart && st.msgs.size > 0);
    ui.loadOlder.disabled = st.loadingOlder;
    ui.loadOlder.textContent = st.loadingOlder ? 'Loading…' : 'Load older messages';
    ui.historyStart.hidden = !(st.loaded && st.atStart && st.msgs.size > 0);
  }

  function loadOlder() {
    var roomId = current;
    var st = roomState(roomId);
    if (!st.loaded || st.loadingOlder || st.atStart) return;
    if (!st.minId) { st.atStart = true; updateRoomChrome(); return; }
    st.loadingOlder = true;
    updateRoomChrome();
    api('GET', roomPath(roomId) + '?before=' + st.minId + '&limit=' + OLDER_PAGE).then(function (data) {
      var msgs = Array.isArray(data.messages) ? data.messages : [];
      if (msgs.length < OLDER_PAGE) st.atStart = true;
      st.loadingOlder = false;
      if (roomId === current) {
        // Keep what the reader looks at in place: shift by the added height.
        var s = ui.scroller;
        var h = s.scrollHeight, top = s.scrollTop;
        addMessages(roomId, msgs, { older: true });
        s.scrollTop = top + (s.scrollHeight - h);
      } else {
        addMessages(roomId, msgs, { older: true });
      }
    }, function (e) {
      st.loadingOlder = false;
      if (roomId === current) showNotice('Could not load older messages: ' + e.message);
    }).finally(function () {
      if (roomId === current) updateRoomChrome();
    });
  }

  /* ---------- connection status and polling ---------- */

  function setStatus(state, text) {
    text = text || state;
    if (ui.status.getAttribute('data-state') !== state) {
      // Announce changes of state, not every tick of the countdown.
      ui.statusLive.textContent = state === 'reconnecting' ? 'Connection lost, reconnecting' :
        state === 'offline' ? 'Offline' : state === 'connected' ? 'Connected' : '';
    }
    ui.status.setAttribute('data-state', state);
    ui.status.textContent = text;
  }

  function stopCountdown() {
    if (poll.countdown) { clearInterval(poll.countdown); poll.countdown = null; }
  }

  function tickStatus() {
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

  function schedulePoll(ms) {
    clearTimeout(poll.timer);
    poll.timer = setTimeout(doPoll, ms);
  }

  function doPoll() {
    poll.timer = null;
    if (!current) return;
    if (poll.inFlight) { poll.again = true; return; }
    var roomId = current;
    var st = roomState(roomId);
    var wasLoaded = st.loaded;
    // The first load of a room is its newest page; after that, the single
    // poll from the cursor, which also brings the room list.
    var url = wasLoaded ? pollPath(roomId, st.cursor, st.known) : roomPath(roomId) + '?limit=' + PAGE;
    poll.inFlight = true;
    poll.again = false;
    if (poll.failures) tickStatus();
    api('GET', url).then(function (data) {
      var msgs = Array.isArray(data.messages) ? data.messages : [];
      var recovered = poll.failures > 0;
      poll.failures = 0;
      stopCountdown();
      setStatus('connected', 'connected');
      if (!st.loaded) {
        st.loaded = true;
        if (msgs.length < PAGE) st.atStart = true;
      }
      addMessages(roomId, msgs);
      if (data.rooms) setRooms(data.rooms);
      var cur = typeof data.cursor === 'number' ? data.cursor : 0;
      for (var i = 0; i < msgs.length; i++) if (msgs[i].id > cur) cur = msgs[i].id;
      if (cur > st.cursor) st.cursor = cur;
      if (roomId === current) {
        markSeen(roomId, st.cursor);
        updateRoomChrome();
        if (!wasLoaded) scrollToBottom();
        if (ui.notice.getAttribute('data-kind') === 'room') { showNotice(''); ui.notice.removeAttribute('data-kind'); }
      }
      flushPending(recovered);
      if (msgs.length >= PAGE) return 0; // more to catch up on
      return document.hidden ? HIDDEN_POLL_MS : POLL_MS;
    }, function (e) {
      if (e.status === 404 || e.status === 400) {
        // The server answered: the connection is fine, the room is not.
        poll.failures = 0;
        stopCountdown();
        setStatus('connected', 'connected');
        if (roomId === current) {
          showNotice('Room “' + roomId + '” was not found.');
          ui.notice.setAttribute('data-kind', 'room');
        }
        return HIDDEN_POLL_MS;
      }
      poll.failures++;
      var delay = backoff(poll.failures, e.retryAfter);
      startCountdown(delay);
      return delay;
    }).catch(function (err) {
      if (window.console) console.error(err);
      return 5000;
    }).then(function (next) {
      poll.inFlight = false;
      if (poll.failures) tickStatus();
      if (poll.again || roomId !== current) { poll.again = false; if (!poll.failures) next = 0; }
      schedulePoll(next);
    });
  }

  // Sends again every message that failed for a passing reason, with the same
  // client_id (the server answers a repeat with the original: never doubled).
  function flushPending(force) {
    if (!sessionValid()) return;
    var now = Date.now();
    Object.keys(roomStates).forEach(function (id) {
      roomStates[id].pending.forEach(function (p) {
        if (p.state === 'failed' && p.auto && !p.inFlight && (force || p.nextTry <= now)) postPending(p);
      });
    });
  }

  /* ---------- sending ---------- */

  function composerError(text) {
    ui.composerError.textContent = text || '';
    ui.composerError.hidden = !text;
  }

  function send() {
    var text = ui.input.value.trim();
    if (!text) return;
    if (Array.from(text).length > MAX_BODY) {
      composerError('Messages can be at most ' + MAX_BODY + ' characters (this one has ' + Array.from(text).length + ').');
      return;
    }
    composerError('');
    if (!sessionValid()) { updateIdentity(); showJoin('Your session expired. Please choose a name again.'); return; }
    var st = roomState(current);
    var p = newPending(current, newClientId(), text, session.name);
    st.pending.set(p.client_id, p);
    savePending();
    ui.list.appendChild(pendingEl(p));
    ui.input.value = '';
    autosize();
    updateRoomChrome();
    scrollToBottom();
    postPending(p);
  }

  function newPending(room, clientId, body, author) {
    return { client_id: clientId, body: body, room: room, author: author, state: 'sending',
      auto: true, attempts: 0, nextTry: 0, inFlight: false, error: '', el: null };
  }

  function retryPending(p) {
    if (!sessionValid()) { updateIdentity(); showJoin('Choose a name, then your message is sent.'); return; }
    p.auto = true;
    postPending(p);
  }

  function postPending(p) {
    if (p.inFlight) return;
    var st = roomState(p.room);
    if (!sessionValid()) { p.state = 'failed'; updatePendingEl(p); return; }
    p.author = session.name;
    p.inFlight = true;
    p.state = 'sending';
    p.error = '';
    updatePendingEl(p);
    api('POST', roomPath(p.room), { body: p.body, client_id: p.client_id }, session.token).then(function (data) {
      p.inFlight = false;
      removePending(st, p.client_id);
      if (data && data.message) {
        addMessages(p.room, [data.message]);
        // The next poll must reach it, even from a lagging replica.
        if (data.message.id > st.known) st.known = data.message.id;
      }
      if (p.room === current) updateRoomChrome();
      // The server answered: no need to wait out the poller's backoff.
      if (poll.failures && !poll.inFlight) schedulePoll(0);
    }, function (e) {
      p.inFlight = false;
      if (!st.pending.has(p.client_id)) return; // a poll already delivered it
      p.state = 'failed';
      p.error = e.message;
      p.attempts++;
      p.auto = transient(e) || e.status === 401;
      p.nextTry = Date.now() + backoff(p.attempts, e.retryAfter);
      updatePendingEl(p);
      if (e.status === 401) {
        clearSession();
        showJoin('Your session expired. Choose a name again and your message is sent.');
      } else if (e.status === 429) {
        // Over the server's limit: say so, and let the retry wait it out.
        composerError('Slow down: you are sending messages too fast. This one is sent by itself in ' +
          Math.max(1, Math.ceil((p.nextTry - Date.now()) / 1000)) + ' s.');
      } else if (transient(e) && poll.failures === 0) {
        schedulePoll(0); // find out at once whether the connection is gone
      }
    });
  }

  function restorePending() {
    var saved = readJSON(sessionStore(), PENDING_KEY);
    if (!Array.isArray(saved)) return;
    saved.forEach(function (s) {
      if (!s || !s.room || !s.client_id || typeof s.body !== 'string') return;
      var p = newPending(s.room, s.client_id, s.body, s.author || (session ? session.name : ''));
      p.state = 'failed';
      roomState(s.room).pending.set(p.client_id, p);
    });
  }

  function autosize() {
    var t = ui.input;
    t.style.height = 'auto';
    t.style.height = Math.min(t.scrollHeight + 2, 200) + 'px';
  }

  /* ---------- wiring ---------- */

  ui.joinForm.addEventListener('submit', join);
  ui.joinCancel.addEventListener('click', function () { ui.nameInput.value = ''; showComposer(true); });
  ui.changeName.addEventListener('click', function () {
    ui.nameInput.value = session ? session.name : '';
    showJoin('');
  });
  ui.signOut.addEventListener('click', function () {
    clearSession();
    ui.nameInput.value = '';
    showJoin('');
    rerenderCurrent();
  });

  ui.composer.addEventListener('submit', function (ev) { ev.preventDefault(); send(); ui.input.focus(); });
  ui.input.addEventListener('keydown', function (ev) {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
      ev.preventDefault();
      send();
    }
  });
  ui.input.addEventListener('input', function () { autosize(); composerError(''); });

  ui.loadOlder.addEventListener('click', loadOlder);
  ui.jump.addEventListener('click', function () { scrollToBottom(); ui.input.focus(); });
  ui.scroller.addEventListener('scroll', function () {
    var s = ui.scroller;
    if (s.scrollTop < 24 && s.scrollHeight > s.clientHeight + 24) loadOlder();
    if (isAtBottom() && current && roomState(current).newBelow) { roomState(current).newBelow = 0; ui.jump.hidden = true; }
  }, { passive: true });

  window.addEventListener('hashchange', onHashChange);
  window.addEventListener('online', function () {
    stopCountdown();
    setStatus('connecting', 'connecting…');
    schedulePoll(0);
  });
  window.addEventListener('offline', function () { if (poll.failures) tickStatus(); else setStatus('offline', 'offline'); });
  document.addEventListener('visibilitychange', function () {
    if (document.hidden) return;
    // Back in view: catch up now (rooms too) unless we are waiting out a backoff.
    if (!poll.failures) schedulePoll(0);
  });

  restorePending();
  updateIdentity();
  if (session) showComposer(false); else showJoin('');
  loadRooms();
  onHashChange();
})();
