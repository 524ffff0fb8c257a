/* Chat UI — plain JS, no dependencies. All user data is rendered as text. */
(function () {
  'use strict';

  var SESSION_KEY = 'chat.session';
  var DEFAULT_ROOM = 'general';
  var POLL_MS = 1000;
  var MAX_BACKOFF_MS = 30000;
  var PAGE = 100;
  var OLDER_PAGE = 50;
  var ROOMS_REFRESH_MS = 15000;
  var REQUEST_TIMEOUT_MS = 20000;

  function $(id) { return document.getElementById(id); }
  var ui = {
    status: $('status'), identity: $('identity'), whoami: $('whoami'), changeName: $('change-name'),
    roomList: $('room-list'), roomsError: $('rooms-error'), roomTitle: $('room-title'),
    notice: $('notice'), scroller: $('scroller'), loadOlder: $('load-older'),
    historyStart: $('history-start'), empty: $('empty'), list: $('messages'),
    joinForm: $('join-form'), nameInput: $('name-input'), joinButton: $('join-button'),
    joinCancel: $('join-cancel'), joinError: $('join-error'),
    composer: $('composer'), input: $('message-input'), sendButton: $('send-button')
  };

  var session = loadSession();
  var rooms = [];
  var roomStates = Object.create(null);
  var current = null;
  var poll = { timer: null, inFlight: false, again: false, failures: 0, countdown: null };

  /* ---------- helpers ---------- */

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
      method: method, headers: headers, cache: 'no-store', credentials: 'same-origin',
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

  function roomPath(id) { return '/api/rooms/' + encodeURIComponent(id) + '/messages'; }

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

  function make(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text != null) n.textContent = String(text);
    return n;
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

  function isAtBottom() {
    var s = ui.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 48;
  }
  function scrollToBottom() { ui.scroller.scrollTop = ui.scroller.scrollHeight; }

  function showNotice(text) {
    ui.notice.textContent = text || '';
    ui.notice.hidden = !text;
  }

  /* ---------- session ---------- */

  function loadSession() {
    try {
      var s = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');
      if (!s || !s.token || !s.name) return null;
      if (s.expires_at && Date.parse(s.expires_at) <= Date.now()) {
        sessionStorage.removeItem(SESSION_KEY);
        return null;
      }
      return s;
    } catch (e) { return null; }
  }

  function saveSession(s) {
    session = s;
    try { sessionStorage.setItem(SESSION_KEY, JSON.stringify(s)); } catch (e) { /* ignore */ }
  }

  function clearSession() {
    session = null;
    try { sessionStorage.removeItem(SESSION_KEY); } catch (e) { /* ignore */ }
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
    api('POST', '/api/session', { name: name }).then(function (data) {
      saveSession({ token: data.token, name: data.name || name, expires_at: data.expires_at });
      ui.nameInput.value = '';
      showComposer(true);
      rerenderMine();
    }, function (e) {
      showJoin(e.message || 'Could not join.');
    }).finally(function () { ui.joinButton.disabled = false; });
  }

  /* ---------- rooms ---------- */

  function roomState(id) {
    var st = roomStates[id];
    if (!st) {
      st = roomStates[id] = {
        id: id, msgs: new Map(), minId: 0, cursor: 0, loaded: false, atStart: false,
        loadingOlder: false, pending: new Map(), scrollTop: null, atBottom: true
      };
    }
    return st;
  }

  function roomTitle(id) {
    for (var i = 0; i < rooms.length; i++) if (rooms[i].id === id) return rooms[i].title || id;
    return id;
  }

  function loadRooms() {
    api('GET', '/api/rooms').then(function (data) {
      rooms = Array.isArray(data.rooms) ? data.rooms : [];
      ui.roomsError.hidden = true;
      renderRooms();
      setTimeout(loadRooms, ROOMS_REFRESH_MS);
    }, function (e) {
      if (!rooms.length) {
        ui.roomsError.textContent = 'Could not load rooms (' + e.message + '). Retrying…';
        ui.roomsError.hidden = false;
      }
      setTimeout(loadRooms, Math.max(5000, (e.retryAfter || 0) * 1000));
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
      var st = roomStates[r.id];
      if (r.id !== current && st && st.loaded && typeof r.last_message_id === 'number' && r.last_message_id > st.cursor) {
        li.classList.add('unread');
        var dot = make('span', 'unread-dot');
        dot.setAttribute('aria-label', 'new messages');
        a.appendChild(dot);
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
      for (var k = 0; k < ui.roomList.children.length; k++) {
        var item = ui.roomList.children[k];
        if (item.getAttribute('data-room') === focusedRoom) { item.querySelector('a').focus(); break; }
      }
    }
    ui.roomTitle.textContent = current ? '#' + roomTitle(current) : '';
    if (current) document.title = roomTitle(current) + ' · Chat';
  }

  function roomFromHash() {
    var m = /^#\/room\/(.+)$/.exec(location.hash || '');
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
    schedulePoll(0);
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
    li.appendChild(make('div', 'body', m.body));
    return li;
  }

  function pendingEl(p) {
    var li = make('li', 'message pending');
    li.setAttribute('data-client-id', p.client_id);
    li.classList.add('mine');
    var meta = make('div', 'meta');
    meta.appendChild(make('span', 'author', p.author));
    var state = make('span', 'state');
    meta.appendChild(state);
    li.appendChild(meta);
    li.appendChild(make('div', 'body', p.body));
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
    if (p.state === 'failed') {
      state.appendChild(document.createTextNode('failed — '));
      var btn = make('button', 'retry link-button', 'retry');
      btn.type = 'button';
      btn.title = p.error ? 'Error: ' + p.error : 'Retry sending';
      btn.addEventListener('click', function () { retryPending(p); });
      state.appendChild(btn);
    } else {
      state.textContent = 'sending…';
    }
  }

  function firstPendingEl() { return ui.list.querySelector('li.pending'); }

  function insertMessageEl(li, id) {
    var fp = firstPendingEl();
    var node = fp ? fp.previousElementSibling : ui.list.lastElementChild;
    while (node && Number(node.getAttribute('data-id')) > id) node = node.previousElementSibling;
    ui.list.insertBefore(li, node ? node.nextElementSibling : ui.list.firstElementChild);
  }

  function removePending(st, clientId) {
    var p = st.pending.get(clientId);
    if (!p) return;
    st.pending.delete(clientId);
    if (p.el && p.el.parentNode) p.el.parentNode.removeChild(p.el);
    p.el = null;
  }

  // Adds messages to a room's store (dedup by id) and to the DOM when visible.
  function addMessages(roomId, msgs, opts) {
    var st = roomState(roomId);
    var visible = roomId === current;
    var follow = visible && !(opts && opts.noFollow) && isAtBottom();
    var added = 0;
    for (var i = 0; i < msgs.length; i++) {
      var m = msgs[i];
      if (!m || typeof m.id !== 'number') continue;
      if (m.client_id && st.pending.has(m.client_id)) removePending(st, m.client_id);
      if (st.msgs.has(m.id)) continue;
      st.msgs.set(m.id, m);
      if (!st.minId || m.id < st.minId) st.minId = m.id;
      added++;
      if (visible) insertMessageEl(messageEl(m), m.id);
    }
    if (visible) {
      updateRoomChrome();
      if (follow && added) scrollToBottom();
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
    ui.input.placeholder = 'Message #' + roomTitle(current) + ' (Enter to send, Shift+Enter for a new line)';
    updateRoomChrome();
    if (st.atBottom || st.scrollTop == null) scrollToBottom();
    else ui.scroller.scrollTop = st.scrollTop;
  }

  function rerenderMine() {
    if (!current) return;
    var keep = isAtBottom();
    var top = ui.scroller.scrollTop;
    var st = roomState(current);
    st.atBottom = keep; st.scrollTop = top;
    renderRoom();
  }

  function updateRoomChrome() {
    var st = roomState(current);
    var count = st.msgs.size + st.pending.size;
    ui.empty.textContent = st.loaded ? 'No messages yet — say hi!' : 'Loading…';
    ui.empty.hidden = count > 0;
    var canOlder = st.loaded && !st.atStart && st.msgs.size > 0;
    ui.loadOlder.hidden = !canOlder;
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
      if (roomId === current) {
        var s = ui.scroller;
        var h = s.scrollHeight, top = s.scrollTop;
        addMessages(roomId, msgs, { noFollow: true });
        s.scrollTop = top + (s.scrollHeight - h);
      } else {
        addMessages(roomId, msgs, { noFollow: true });
      }
    }, function (e) {
      if (roomId === current) showNotice('Could not load older messages: ' + e.message);
    }).finally(function () {
      st.loadingOlder = false;
      if (roomId === current) updateRoomChrome();
    });
  }

  /* ---------- polling ---------- */

  function setStatus(state, text) {
    ui.status.setAttribute('data-state', state);
    ui.status.textContent = text || state;
  }

  function stopCountdown() {
    if (poll.countdown) { clearInterval(poll.countdown); poll.countdown = null; }
  }

  function startCountdown(ms) {
    stopCountdown();
    var until = Date.now() + ms;
    function tick() {
      if (navigator.onLine === false) { setStatus('offline', 'offline'); return; }
      var s = Math.max(1, Math.ceil((until - Date.now()) / 1000));
      setStatus('reconnecting', 'reconnecting in ' + s + ' s');
    }
    tick();
    poll.countdown = setInterval(tick, 1000);
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
    var url = roomPath(roomId) + '?limit=' + PAGE + (wasLoaded ? '&after=' + st.cursor : '');
    poll.inFlight = true;
    poll.again = false;
    api('GET', url).then(function (data) {
      var msgs = Array.isArray(data.messages) ? data.messages : [];
      if (!st.loaded) {
        st.loaded = true;
        if (msgs.length < PAGE) st.atStart = true;
      }
      addMessages(roomId, msgs);
      var cur = typeof data.cursor === 'number' ? data.cursor : 0;
      for (var i = 0; i < msgs.length; i++) if (msgs[i].id > cur) cur = msgs[i].id;
      if (cur > st.cursor) st.cursor = cur;
      if (roomId === current) {
        updateRoomChrome();
        if (!wasLoaded) scrollToBottom();
        if (/not.?found/i.test(ui.notice.textContent)) showNotice('');
      }
      poll.failures = 0;
      stopCountdown();
      setStatus('connected', 'connected');
      return msgs.length >= PAGE ? 0 : POLL_MS;
    }, function (e) {
      poll.failures++;
      var base = Math.min(MAX_BACKOFF_MS, 1000 * Math.pow(2, poll.failures - 1));
      var delay = Math.min(MAX_BACKOFF_MS, Math.max(500, base * (0.75 + Math.random() * 0.5)));
      if (e.retryAfter) delay = Math.max(delay, e.retryAfter * 1000);
      if (roomId === current && e.status === 404) showNotice('Room “' + roomId + '” was not found.');
      startCountdown(delay);
      return delay;
    }).catch(function (err) {
      if (window.console) console.error(err);
      return 5000;
    }).then(function (next) {
      poll.inFlight = false;
      if (poll.again || roomId !== current) { poll.again = false; next = 0; }
      schedulePoll(next);
    });
  }

  /* ---------- sending ---------- */

  function send() {
    var text = ui.input.value.trim();
    if (!text) return;
    if (!sessionValid()) { updateIdentity(); showJoin('Your session expired — please choose a name again.'); return; }
    var st = roomState(current);
    var p = { client_id: newClientId(), body: text, room: current, author: session.name, state: 'sending', el: null };
    st.pending.set(p.client_id, p);
    ui.list.appendChild(pendingEl(p));
    ui.input.value = '';
    autosize();
    updateRoomChrome();
    scrollToBottom();
    postPending(p);
  }

  function retryPending(p) {
    if (!sessionValid()) { updateIdentity(); showJoin('Choose a name, then retry your message.'); return; }
    postPending(p);
  }

  function postPending(p) {
    p.state = 'sending';
    p.error = '';
    updatePendingEl(p);
    var st = roomState(p.room);
    api('POST', roomPath(p.room), { body: p.body, client_id: p.client_id }, session.token).then(function (data) {
      removePending(st, p.client_id);
      if (data && data.message) addMessages(p.room, [data.message]);
      if (p.room === current) updateRoomChrome();
    }, function (e) {
      if (!st.pending.has(p.client_id)) return; // poll already delivered it
      p.state = 'failed';
      p.error = e.message;
      updatePendingEl(p);
      if (e.status === 401) {
        clearSession();
        showJoin('Your session expired — choose a name again, then retry.');
      }
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

  ui.composer.addEventListener('submit', function (ev) { ev.preventDefault(); send(); ui.input.focus(); });
  ui.input.addEventListener('keydown', function (ev) {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
      ev.preventDefault();
      send();
    }
  });
  ui.input.addEventListener('input', autosize);

  ui.loadOlder.addEventListener('click', loadOlder);
  ui.scroller.addEventListener('scroll', function () {
    var s = ui.scroller;
    if (s.scrollTop < 24 && s.scrollHeight > s.clientHeight + 24) loadOlder();
  }, { passive: true });

  window.addEventListener('hashchange', onHashChange);
  window.addEventListener('online', function () { stopCountdown(); setStatus('connecting', 'connecting…'); schedulePoll(0); });
  window.addEventListener('offline', function () { setStatus('offline', 'offline'); });

  updateIdentity();
  if (session) showComposer(false); else showJoin('');
  loadRooms();
  onHashChange();
})();
