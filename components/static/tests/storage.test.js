// The browser's storage: sessions kept in one place, expired ones dropped,
// and a missing, broken or full storage never stops the page.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  SESSION_KEY, clearSession, loadSession, localStore, readJSON, saveSession, sessionStore, writeJSON,
} from '../assets/js/storage.js';

// A Web Storage stand-in with what storage.js uses; `full` makes writes
// throw as a full storage does.
function memoryStorage() {
  const items = new Map();
  return {
    full: false,
    getItem: (k) => (items.has(k) ? items.get(k) : null),
    setItem(k, v) {
      if (this.full) throw new Error('QuotaExceededError');
      items.set(k, String(v));
    },
    removeItem: (k) => { items.delete(k); },
    get size() { return items.size; },
  };
}

const NOW = Date.parse('2026-12-05T12:00:00Z');
const later = '2026-12-06T12:00:00Z';
const earlier = '2026-12-04T12:00:00Z';

beforeEach(() => {
  globalThis.localStorage = memoryStorage();
  globalThis.sessionStorage = memoryStorage();
});

test('a session lives in sessionStorage, or in localStorage with remember, never both', () => {
  saveSession({ token: 't1', name: 'alice', expires_at: later, session: 's1', edit_window_secs: 900, remember: false });
  assert.equal(localStorage.size, 0);
  assert.deepEqual(loadSession(NOW),
    { token: 't1', name: 'alice', expires_at: later, session: 's1', edit_window_secs: 900, remember: false });
  saveSession({ token: 't2', name: 'alice', expires_at: later, session: 's2', remember: true });
  assert.equal(sessionStorage.size, 0, 'remembering moves it out of sessionStorage');
  assert.equal(loadSession(NOW).token, 't2');
  assert.equal(loadSession(NOW).remember, true);
  clearSession();
  assert.equal(loadSession(NOW), null);
  assert.equal(localStorage.size + sessionStorage.size, 0);
});

test('an expired or incomplete session is not loaded, and an expired one is removed', () => {
  writeJSON(sessionStorage, SESSION_KEY, { token: 'old', name: 'bob', expires_at: earlier });
  writeJSON(localStorage, SESSION_KEY, { token: 'kept', name: 'bob', expires_at: later });
  assert.equal(loadSession(NOW).token, 'kept', 'the expired one is skipped for the next');
  assert.equal(sessionStorage.getItem(SESSION_KEY), null, 'and removed');
  writeJSON(localStorage, SESSION_KEY, { token: 'no name' });
  assert.equal(loadSession(NOW), null);
});

test('broken JSON reads as nothing; null removes a key', () => {
  localStorage.setItem('k', '{not json');
  assert.equal(readJSON(localStorage, 'k'), null);
  writeJSON(localStorage, 'k', { a: 1 });
  assert.deepEqual(readJSON(localStorage, 'k'), { a: 1 });
  writeJSON(localStorage, 'k', null);
  assert.equal(localStorage.getItem('k'), null);
});

test('a full storage or none at all never throws', () => {
  localStorage.full = true;
  assert.doesNotThrow(() => writeJSON(localStorage, 'k', { a: 1 }));
  assert.equal(readJSON(localStorage, 'k'), null);
  assert.doesNotThrow(() => saveSession({ token: 't', name: 'n', remember: true }));
  delete globalThis.localStorage;
  delete globalThis.sessionStorage;
  assert.equal(localStore(), null);
  assert.equal(sessionStore(), null);
  assert.doesNotThrow(() => writeJSON(null, 'k', 1));
  assert.equal(readJSON(null, 'k'), null);
  assert.equal(loadSession(NOW), null);
  Object.defineProperty(globalThis, 'localStorage', { configurable: true, get() { throw new Error('SecurityError'); } });
  assert.equal(localStore(), null, 'a storage that throws when touched reads as none');
  delete globalThis.localStorage;
});
