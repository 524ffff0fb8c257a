// The page's API client against a real HTTP server, and its backoff.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  ApiError, MAX_BACKOFF_MS, api, backoff, messagePath, pollPath, transient
} from '../assets/js/api.js';

test('backoff doubles from one second up to the cap', () => {
  const mid = () => 0.5; // no jitter
  assert.deepEqual([1, 2, 3, 4, 5, 6, 20].map((n) => backoff(n, 0, mid)),
    [1000, 2000, 4000, 8000, 8000, 8000, 8000]);
  assert.equal(backoff(0, 0, mid), 1000);
});

test('backoff jitters by a quarter either way, within the bounds', () => {
  assert.equal(backoff(1, 0, () => 0), 750);
  assert.equal(backoff(1, 0, () => 0.999999), 1249.9995);
  assert.equal(backoff(3, 0, () => 0), 3000);
  // The cap holds after the jitter too.
  assert.equal(backoff(4, 0, () => 0.999999), MAX_BACKOFF_MS);
  for (let i = 0; i < 1000; i++) {
    const d = backoff(1 + (i % 8), 0);
    assert.ok(d >= 750 && d <= MAX_BACKOFF_MS, String(d));
  }
});

test("backoff waits at least the server's Retry-After", () => {
  assert.equal(backoff(1, 30, () => 0.5), 30000);
  assert.equal(backoff(6, 2, () => 0.5), 8000);
});

test('only passing failures are retried', () => {
  for (const status of [0, 408, 429, 500, 502, 503]) assert.ok(transient({ status }), String(status));
  for (const status of [400, 401, 403, 404, 409, 413, 422]) assert.ok(!transient({ status }), String(status));
});

test('paths escape room ids, and the poll names a known id only past the cursor', () => {
  assert.equal(messagePath('a/b c', 7), '/api/rooms/a%2Fb%20c/messages/7');
  assert.equal(pollPath('general', 10, 12, 100), '/api/poll?room=general&after=10&limit=100&known=12');
  assert.equal(pollPath('general', 10, 9, 100), '/api/poll?room=general&after=10&limit=100');
});

// A server that answers each path as the table says, and records requests.
async function server(routes) {
  const seen = [];
  const s = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      const [status, headers, text] = routes[req.url] || [404, {}, ''];
      res.writeHead(status, headers);
      res.end(text);
    });
  });
  await new Promise((ok) => s.listen(0, '127.0.0.1', ok));
  return { base: 'http://127.0.0.1:' + s.address().port, seen, close: () => s.close() };
}

test('api sends JSON with the token in the header and reads JSON back', async () => {
  const s = await server({ '/ok': [201, { 'content-type': 'application/json' }, '{"id":5}'], '/empty': [204, {}, ''] });
  try {
    assert.deepEqual(await api('POST', s.base + '/ok', { body: 'hi' }, 'tok'), { id: 5 });
    assert.deepEqual(await api('GET', s.base + '/empty'), {});
    const [post, get] = s.seen;
    assert.equal(post.headers.authorization, 'Bearer tok');
    assert.equal(post.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(post.body), { body: 'hi' });
    assert.equal(get.headers.authorization, undefined);
    assert.equal(get.headers['content-type'], undefined);
  } finally { s.close(); }
});

test("api turns an error reply into an ApiError with the server's code and Retry-After", async () => {
  const s = await server({
    '/slow': [429, { 'retry-after': '7' }, '{"error":{"code":"rate_limited","message":"Slow down"}}'],
    '/broken': [502, {}, '<html>bad gateway</html>'],
    '/muted': [403, {}, '{"error":{"code":"muted","message":"m","until":"2026-03-01T13:30:00Z"}}']
  });
  try {
    await assert.rejects(api('GET', s.base + '/slow'), (e) => {
      assert.ok(e instanceof ApiError);
      assert.deepEqual([e.status, e.code, e.message, e.retryAfter, e.until], [429, 'rate_limited', 'Slow down', 7, null]);
      return true;
    });
    // A mute's refusal says until when.
    await assert.rejects(api('GET', s.base + '/muted'), (e) => {
      assert.deepEqual([e.status, e.code, e.until], [403, 'muted', '2026-03-01T13:30:00Z']);
      return true;
    });
    // Not JSON (a proxy's page): the status speaks.
    await assert.rejects(api('GET', s.base + '/broken'), (e) => {
      assert.deepEqual([e.status, e.code, e.message, e.retryAfter], [502, 'http_502', 'Request failed (502)', 0]);
      return true;
    });
  } finally { s.close(); }
});

test('api reports no answer as status 0', async () => {
  const s = await server({});
  s.close();
  await new Promise((ok) => setTimeout(ok, 50));
  await assert.rejects(api('GET', s.base + '/gone'), (e) => {
    assert.deepEqual([e.status, e.code, e.message], [0, 'network', 'Network error']);
    assert.ok(transient(e));
    return true;
  });
});
