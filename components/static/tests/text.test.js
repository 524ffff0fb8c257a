// Links and mentions in a message's text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { excerpt, findLinks, mentionsMe, nameProblem, orderNames, segments } from '../assets/js/text.js';

const joined = (segs) => segs.map((s) => s.text).join('');

test('links are http(s) only, without the punctuation that ends a sentence', () => {
  const text = 'see https://example.org/a?b=1, (http://x.test/p). javascript:alert(1) ftp://f.test/';
  const links = findLinks(text);
  assert.deepEqual(links.map((l) => l.text), ['https://example.org/a?b=1', 'http://x.test/p']);
  assert.deepEqual(links.map((l) => l.href), ['https://example.org/a?b=1', 'http://x.test/p']);
  for (const l of links) assert.equal(text.slice(l.start, l.end), l.text);
});

test('a link stops at quotes and angle brackets, and its href is re-serialised', () => {
  const [l] = findLinks('<https://Example.ORG/x y> "https://q.test/"');
  assert.equal(l.text, 'https://Example.ORG/x');
  assert.equal(l.href, 'https://example.org/x');
  assert.deepEqual(findLinks('"https://q.test/"').map((x) => x.text), ['https://q.test/']);
});

test('an unparsable link is left as text', () => {
  assert.deepEqual(findLinks('http://[::1 and more'), []);
  assert.deepEqual(segments('http://[::1 x', [], null), [{ kind: 'text', text: 'http://[::1 x' }]);
});

test('segments join back to the text, links and mentions in order', () => {
  const text = 'hi @Ada Lovelace, read https://example.org/@ada and tell @bob!';
  const names = orderNames(['bob', 'Ada Lovelace', 'Ada']);
  const segs = segments(text, names, 'bob');
  assert.equal(joined(segs), text);
  assert.deepEqual(segs.filter((s) => s.kind !== 'text'), [
    { kind: 'mention', text: '@Ada Lovelace', me: false },
    { kind: 'link', text: 'https://example.org/@ada', href: 'https://example.org/@ada' },
    { kind: 'mention', text: '@bob', me: true }
  ]);
});

test('known names win, longest first; otherwise a word; never in an e-mail address', () => {
  const names = orderNames(['Ada', 'Ada Lovelace']);
  assert.deepEqual(names, ['Ada Lovelace', 'Ada']);
  const m = (text) => segments(text, names, null).filter((s) => s.kind === 'mention').map((s) => s.text);
  assert.deepEqual(m('@Ada Lovelace and @ada and @Adam and @zoë.k.'), ['@Ada Lovelace', '@ada', '@Adam', '@zoë.k']);
  assert.deepEqual(m('write to ada@example.org or @ '), []);
});

test('a mention of me is case-insensitive and needs a whole name', () => {
  const names = orderNames(['Grace Hopper']);
  assert.ok(mentionsMe('thanks @grace hopper', names, 'Grace Hopper'));
  assert.ok(!mentionsMe('thanks @grace', names, 'Grace Hopper'));
  assert.ok(!mentionsMe('thanks @Grace Hoppers', names, 'Grace Hopper'));
  assert.ok(!mentionsMe('thanks @grace hopper', names, null));
});

test('orderNames keeps one spelling per name', () => {
  assert.deepEqual(orderNames(['ada', 'Ada', '', null, 'Bo']), ['ada', 'Bo']);
});

test('excerpt cuts whole code points', () => {
  assert.equal(excerpt('héllo wörld', 5), 'héllo…');
  assert.equal(excerpt('👍👍👍', 2), '👍👍…');
  assert.equal(excerpt('short', 10), 'short');
  assert.equal(excerpt(null, 3), '');
});

test('names follow the server rules', () => {
  assert.equal(nameProblem('Ada'), '');
  assert.equal(nameProblem('a'.repeat(32)), '');
  assert.match(nameProblem(''), /enter a name/);
  assert.match(nameProblem('a'.repeat(33)), /at most 32/);
  assert.equal(nameProblem('😀'.repeat(32)), '');
  assert.match(nameProblem('a\u0007b'), /printable/);
});
