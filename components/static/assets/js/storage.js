/* The browser's storage, where it may be missing (disabled, private mode)
 * or full: reads give null and writes do nothing then, and the page keeps
 * going in memory. */

export const SESSION_KEY = 'chat.session';
export const SEEN_KEY = 'chat.seen';        // localStorage: last seen message id per room
export const PENDING_KEY = 'chat.pending';  // sessionStorage: messages not yet stored
export const ADMIN_KEY = 'chat.admin';      // sessionStorage only: a moderator's admin token
export const THEME_KEY = 'chat.theme';      // localStorage: 'light' or 'dark' (none: the system's)

export function localStore() { try { return globalThis.localStorage || null; } catch (e) { return null; } }
export function sessionStore() { try { return globalThis.sessionStorage || null; } catch (e) { return null; } }

export function readJSON(store, key) {
  try { return store ? JSON.parse(store.getItem(key) || 'null') : null; } catch (e) { return null; }
}

// null or undefined removes the key.
export function writeJSON(store, key, value) {
  try {
    if (!store) return;
    if (value == null) store.removeItem(key); else store.setItem(key, JSON.stringify(value));
  } catch (e) { /* storage full or disabled: keep going in memory */ }
}

/* The session: in sessionStorage, or in localStorage with "remember me";
 * never both. */

// The stored session that has not expired, with `remember` set from where
// it was found; an expired one is removed.
export function loadSession(now = Date.now()) {
  const stores = [sessionStore(), localStore()];
  for (let i = 0; i < stores.length; i++) {
    const s = readJSON(stores[i], SESSION_KEY);
    if (!s || !s.token || !s.name) continue;
    if (s.expires_at && Date.parse(s.expires_at) <= now) { writeJSON(stores[i], SESSION_KEY, null); continue; }
    s.remember = i === 1;
    return s;
  }
  return null;
}

// `session` (the session's id) and `edit_window_secs` came with the
// editing feature: a session stored before lacks them, and then cannot
// edit or remove its messages until the person joins again. `role`
// (guest, member, moderator) came with accounts.
export function saveSession(s) {
  writeJSON(s.remember ? localStore() : sessionStore(), SESSION_KEY,
    { token: s.token, name: s.name, expires_at: s.expires_at, session: s.session, edit_window_secs: s.edit_window_secs, role: s.role });
  writeJSON(s.remember ? sessionStore() : localStore(), SESSION_KEY, null);
}

export function clearSession() {
  writeJSON(sessionStore(), SESSION_KEY, null);
  writeJSON(localStore(), SESSION_KEY, null);
}
