/* The chat's HTTP API as the page calls it: JSON both ways, the token only
 * in the Authorization header (never in the URL), a timeout on every
 * request, and every failure as an ApiError with the server's error code.
 * Also when to retry and how long to wait. No DOM here. */

export const REQUEST_TIMEOUT_MS = 15000;
export const MIN_BACKOFF_MS = 1000;
// Capped low: while no host answers, a health probe (sync.js) finds out
// within half a second that one does again, so the back-off only spaces
// out requests to a server that answers with errors.
export const MAX_BACKOFF_MS = 8000;
export const PROBE_MS = 500;

// status 0 is "no answer" (offline, refused, timed out); `until`: a
// mute's end (error.until, RFC 3339), when the server said it.
export class ApiError extends Error {
  constructor(status, code, message, retryAfter, until) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
    this.until = until || null;
  }
}

function offline() {
  return typeof navigator !== 'undefined' && navigator.onLine === false;
}

// Resolves to the reply's JSON ({} for an empty body); rejects with ApiError.
export function api(method, path, body, token) {
  const headers = { 'Accept': 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers['Authorization'] = 'Bearer ' + token;
  const ctrl = typeof AbortController === 'function' ? new AbortController() : null;
  const timer = ctrl ? setTimeout(() => ctrl.abort(), REQUEST_TIMEOUT_MS) : null;
  return fetch(path, {
    method, headers, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer',
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: ctrl ? ctrl.signal : undefined
  }).then((res) => res.text().then((text) => {
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
    if (!res.ok) {
      const err = (data && data.error) || {};
      const ra = parseInt(res.headers.get('Retry-After') || '', 10);
      throw new ApiError(res.status, err.code || 'http_' + res.status,
        err.message || ('Request failed (' + res.status + ')'), isNaN(ra) ? 0 : ra, err.until);
    }
    return data || {};
  }), (e) => {
    throw new ApiError(0, 'network', offline() ? 'You are offline' :
      (e && e.name === 'AbortError' ? 'Request timed out' : 'Network error'), 0);
  }).finally(() => { if (timer) clearTimeout(timer); });
}

// "I left the room" while the page may be going away: keepalive, no answer awaited.
export function leave(path, token) {
  try {
    fetch(path, {
      method: 'DELETE', keepalive: true, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer',
      headers: { 'Accept': 'application/json', 'Authorization': 'Bearer ' + token }
    }).catch(() => {});
  } catch (e) { /* the page is going away anyway */ }
}

// Nobody answered: no connection, a timeout, or a proxy with no host
// behind it.
export function unanswered(e) {
  return e.status === 0 || e.status === 502 || e.status === 504;
}

// Worth retrying later: no answer, a timeout, overload or a server error.
export function transient(e) {
  return e.status === 0 || e.status === 408 || e.status === 429 || e.status >= 500;
}

// How long to wait before try number `attempt` (1, 2, ...): doubling from
// MIN_BACKOFF_MS up to MAX_BACKOFF_MS, with +-25 % jitter so that clients
// cut off together do not come back together; never less than the
// server's Retry-After (seconds), never less than half a second.
export function backoff(attempt, retryAfter, random = Math.random) {
  const base = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * Math.pow(2, Math.max(0, attempt - 1)));
  const d = Math.min(MAX_BACKOFF_MS, Math.max(500, base * (0.75 + random() * 0.5)));
  return retryAfter ? Math.max(d, retryAfter * 1000) : d;
}

export function roomPath(id) { return '/api/rooms/' + encodeURIComponent(id) + '/messages'; }
export function messagePath(room, id) { return roomPath(room) + '/' + encodeURIComponent(String(id)); }
export function presencePath(id) { return '/api/rooms/' + encodeURIComponent(id) + '/presence'; }
// `known`: an id this page knows exists (its own post), so a lagging
// replica is not taken as "nothing new".
export function pollPath(id, after, known, limit) {
  return '/api/poll?room=' + encodeURIComponent(id) + '&after=' + after + '&limit=' + limit +
    (known > after ? '&known=' + known : '');
}

// A message's client_id: the server answers a repeat with the original.
export function newClientId() {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === 'function') {
    try { return c.randomUUID(); } catch (e) { /* insecure context */ }
  }
  const bytes = new Uint8Array(16);
  if (c && c.getRandomValues) c.getRandomValues(bytes);
  else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (b) => (b < 16 ? '0' : '') + b.toString(16)).join('');
}
