// Formatted message text: parse gives blocks and inline nodes, render
// builds them with a fake document that allows only what render may use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse, plainText, render } from '../assets/js/format.js';
import { orderNames, safeHref } from '../assets/js/text.js';

const TICK = '\x60';
const FENCE = TICK.repeat(3);
const ALLOWED = new Set(['P', 'BLOCKQUOTE', 'PRE', 'CODE', 'STRONG', 'EM', 'A', 'SPAN', 'BR']);

// A document whose elements have only the properties render may set: they
// are sealed, so setting innerHTML (or anything else) throws, and there is
// no setAttribute or insertAdjacentHTML to call.
function fakeDocument() {
  return {
    createElement(tag) {
      return Object.seal({
        tagName: String(tag).toUpperCase(), children: [], className: '', href: '', rel: '', target: '',
        appendChild(n) { this.children.push(n); return n; },
        get textContent() { return this.children.map((c) => c.textContent).join(''); }
      });
    },
    createTextNode(s) { return Object.freeze({ nodeType: 3, textContent: String(s) }); }
  };
}

function draw(text, names = [], own = null) {
  const doc = fakeDocument();
  return render(doc, doc.createElement('div'), text, names, own);
}

// Every element under el (not el itself), depth first.
function elements(el) {
  return el.children.filter((c) => c.tagName).flatMap((c) => [c, ...elements(c)]);
}

function textNodes(el) {
  return el.children.flatMap((c) => (c.tagName ? textNodes(c) : [c.textContent]));
}

// The text of parsed blocks: blocks and lines joined by newlines.
function plain(blocks) {
  const inline = (nodes) => nodes.map((n) => (n.children ? inline(n.children) : n.text)).join('');
  return blocks.map((b) => (b.kind === 'fence' ? b.text : b.lines.map(inline).join('\n'))).join('\n');
}

// How many marker characters the inline formatting took out.
function removed(blocks) {
  const count = (nodes) => nodes.reduce((sum, n) => sum +
    (n.kind === 'strong' ? 4 : n.kind === 'em' || n.kind === 'code' ? 2 : 0) + (n.children ? count(n.children) : 0), 0);
  return blocks.reduce((sum, b) => sum + (b.lines ? b.lines.reduce((s, l) => s + count(l), 0) : 0), 0);
}

const isSubsequence = (part, whole) => {
  let i = 0;
  for (const c of whole) if (c === part[i]) i++;
  return i === part.length;
};
// The characters that are not (or may be) markers, in order.
const strip = (s) => s.replace(/[*_\x60>\s]/g, '');

// What every parse must keep: the output text is the input with markers
// taken out, nothing added, nothing moved.
function assertAccountsFor(input, names = [], own = null) {
  const blocks = parse(input, names, own);
  const out = plain(blocks);
  assert.ok(isSubsequence(out, input), `text not in order: ${JSON.stringify(input)}`);
  assert.equal(strip(out), strip(input), `characters lost: ${JSON.stringify(input)}`);
  if (!input.includes('\n') && !input.startsWith('>')) assert.equal(out.length + removed(blocks), input.length);
  return blocks;
}

// Only the allowed tags, links only to http(s), mentions as spans.
function assertSafe(el) {
  for (const e of elements(el)) {
    assert.ok(ALLOWED.has(e.tagName), `tag ${e.tagName}`);
    if (e.tagName === 'A') {
      assert.match(e.href, /^https?:\/\//);
      assert.equal(safeHref(e.href), e.href);
      assert.equal(e.rel, 'noopener noreferrer');
      assert.equal(e.target, '_blank');
    } else assert.equal(e.href, '');
    if (e.tagName === 'SPAN') assert.ok(['mention', 'mention me'].includes(e.className), e.className);
    else assert.equal(e.className, '');
  }
}

const para = (...nodes) => ({ kind: 'para', lines: [nodes] });
const t = (text) => ({ kind: 'text', text });

test('text without markers comes back as it was', () => {
  for (const s of ['hello', 'two\nlines\n\nand a blank one', 'a * b, 2*3, a_b, @ , 5 > 3', '']) {
    assert.equal(plain(assertAccountsFor(s)), s);
    assert.equal(draw(s).textContent, s);
  }
  assert.deepEqual(parse('hi there'), [para(t('hi there'))]);
});

test('bold, italic and their nesting', () => {
  assert.deepEqual(parse('a **b** c'), [para(t('a '), { kind: 'strong', children: [t('b')] }, t(' c'))]);
  assert.deepEqual(parse('_it_'), [para({ kind: 'em', children: [t('it')] })]);
  assert.deepEqual(parse('**a _b_ c**'), [para({ kind: 'strong', children: [t('a '), { kind: 'em', children: [t('b')] }, t(' c')] })]);
  assert.deepEqual(parse('(_a **b**_)'), [para(t('('), { kind: 'em', children: [t('a '), { kind: 'strong', children: [t('b')] }] }, t(')'))]);
  const el = draw('**a _b_**');
  assert.deepEqual(elements(el).map((e) => e.tagName), ['P', 'STRONG', 'EM']);
  assert.equal(el.textContent, 'a b');
});

test('underscores inside words stay plain', () => {
  for (const s of ['use snake_case_names here', '__init__', 'a_b_', 'x _ y _ z', 'über_alles_']) {
    assert.deepEqual(parse(s), [para(t(s))]);
  }
});

test('markers that do not close are text', () => {
  for (const s of ['**open', 'a ** b', 'close**', '_open', 'a ***b*** c', '****', '** x **']) {
    assert.deepEqual(assertAccountsFor(s), [para(t(s))]);
  }
  assert.deepEqual(parse('**open'), [para(t('**open'))]);
  assert.deepEqual(parse('**a _b**'), [para({ kind: 'strong', children: [t('a _b')] })]);
  assert.deepEqual(parse('a ***b*** c'), [para(t('a ***b*** c'))]);
});

test('inline code keeps its content as it is', () => {
  const s = `run ${TICK}a **b** _c_ @ada https://x.test/${TICK} now`;
  assert.deepEqual(parse(s, ['ada'], 'ada'), [para(t('run '), { kind: 'code', text: 'a **b** _c_ @ada https://x.test/' }, t(' now'))]);
  const el = draw(`**x ${TICK}**${TICK} y**`);
  assert.deepEqual(elements(el).map((e) => e.tagName), ['P', 'STRONG', 'CODE']);
  assert.equal(el.textContent, 'x ** y');
  for (const s of [`${TICK}${TICK} empty`, `${TICK}open`]) assert.deepEqual(parse(s), [para(t(s))]);
});

test('links: inside bold, never formatted inside, trailing markers left out', () => {
  assert.deepEqual(parse('**see https://example.org/a**'), [para({ kind: 'strong', children: [
    t('see '), { kind: 'link', text: 'https://example.org/a', href: 'https://example.org/a' }] })]);
  assert.deepEqual(parse('https://x.test/_a_/**b**'), [para({ kind: 'link', text: 'https://x.test/_a_/**b', href: 'https://x.test/_a_/**b' }, t('**'))]);
  const el = draw('_https://x.test/p_.');
  const [p, em, a] = elements(el);
  assert.deepEqual([p.tagName, em.tagName, a.tagName, a.href], ['P', 'EM', 'A', 'https://x.test/p']);
  assert.equal(el.textContent, 'https://x.test/p.');
});

test('mentions, inside italic too', () => {
  const names = orderNames(['Ada Lovelace', 'bob']);
  assert.deepEqual(parse('_hi @Ada Lovelace_', names, 'Ada Lovelace'), [para({ kind: 'em', children: [
    t('hi '), { kind: 'mention', text: '@Ada Lovelace', me: true }] })]);
  const el = draw('**@bob** and _@ada_', names, 'Ada Lovelace');
  const spans = elements(el).filter((e) => e.tagName === 'SPAN');
  assert.deepEqual(spans.map((s) => [s.className, s.textContent]), [['mention', '@bob'], ['mention', '@ada']]);
  assert.equal(el.textContent, '@bob and @ada');
});

test('fences: a blank line inside, a language kept as data only, unclosed to the end', () => {
  const s = ['before', FENCE + 'js', 'let a = 1;', '', '**not bold** <b>', FENCE, 'after'].join('\n');
  const blocks = parse(s);
  assert.deepEqual(blocks, [para(t('before')), { kind: 'fence', lang: 'js', text: 'let a = 1;\n\n**not bold** <b>' }, para(t('after'))]);
  const el = draw(s);
  assert.deepEqual(elements(el).map((e) => e.tagName), ['P', 'PRE', 'CODE', 'P']);
  assert.equal(elements(el)[2].textContent, 'let a = 1;\n\n**not bold** <b>');
  assert.ok(elements(el).every((e) => e.className === ''));
  assert.deepEqual(parse(FENCE + '\na\n**b**'), [{ kind: 'fence', lang: '', text: 'a\n**b**' }]);
  assert.deepEqual(parse(`${FENCE}x${FENCE}`), [para(t(TICK + TICK), { kind: 'code', text: 'x' }, t(TICK + TICK))]);
  assertAccountsFor(['a', FENCE, 'b', FENCE, '', FENCE, 'c'].join('\n'));
});

test('quotes: consecutive lines make one, formatted inside', () => {
  const blocks = parse('> one **1**\n> two\n>\nafter');
  assert.deepEqual(blocks, [
    { kind: 'quote', lines: [[t('one '), { kind: 'strong', children: [t('1')] }], [t('two')], []] },
    para(t('after'))
  ]);
  const el = draw('> one\n> two\nafter');
  assert.deepEqual(elements(el).map((e) => e.tagName), ['BLOCKQUOTE', 'P']);
  assert.equal(elements(el)[0].textContent, 'one\ntwo');
  assert.deepEqual(parse('>not a quote'), [para(t('>not a quote'))]);
});

test('line breaks stay newlines; an empty line before a block gets a br', () => {
  const el = draw(['a', '', FENCE, 'x', FENCE, '', 'b', ''].join('\n'));
  assert.deepEqual(elements(el).map((e) => e.tagName), ['P', 'BR', 'PRE', 'CODE', 'P']);
  assert.deepEqual(textNodes(el.children[0]), ['a', '\n']);
  assert.deepEqual(textNodes(el.children[2]), ['\n', 'b', '\n']);
});

test('hostile input stays text', () => {
  const inputs = [
    '<script>alert(1)</script>',
    '<img src=x onerror=alert(1)>',
    '[x](javascript:alert(1))',
    'javascript:alert(1)',
    '**[a](javascript:x)**',
    '**<b>x</b>**',
    '**_**_x_**_**',
    '_<i onclick=alert(1)>_ https://ok.test/"onmouseover="x <a href="javascript:x">y</a>',
    '> <script>x</script>\n' + FENCE + '<script>\n</script>',
    '*'.repeat(2000), '_'.repeat(2000), TICK.repeat(2000), '**_'.repeat(700), '> '.repeat(1000)
  ];
  for (const s of inputs) {
    const el = draw(s, ['x'], 'x');
    assertSafe(el);
    assertAccountsFor(s);
    assert.equal(strip(el.textContent), strip(s));
    for (const e of elements(el)) assert.ok(!['SCRIPT', 'IMG', 'B', 'I'].includes(e.tagName));
  }
  const angle = draw('<script>alert(1)</script>');
  assert.deepEqual(textNodes(angle), ['<script>alert(1)</script>']);
  assert.deepEqual(elements(draw('[x](javascript:alert(1)) javascript:alert(1)')).map((e) => e.tagName), ['P']);
  const bold = draw('**<b>x</b>**');
  assert.deepEqual(elements(bold).map((e) => e.tagName), ['P', 'STRONG']);
  assert.deepEqual(textNodes(bold), ['<b>x</b>']);
  assert.equal(elements(draw('**[a](javascript:x)**')).filter((e) => e.tagName === 'A').length, 0);
  const links = elements(draw('https://ok.test/"onmouseover="x')).filter((e) => e.tagName === 'A');
  assert.deepEqual(links.map((a) => a.href), ['https://ok.test/']);
});

test('long runs of markers keep their text', () => {
  for (const s of ['*'.repeat(2000), '_'.repeat(2000), TICK.repeat(2000)]) assert.equal(plain(parse(s)), s);
  assert.deepEqual(parse('> '.repeat(1000)), [{ kind: 'quote', lines: [[t('> '.repeat(999))]] }]);
  assertAccountsFor('**_'.repeat(700));
  assertAccountsFor('_a **b '.repeat(300) + 'c** d_'.repeat(300));
});

test('random marker soup keeps its text and stays safe', () => {
  const alphabet = ['*', '**', '_', TICK, ' ', 'a', 'b_c', '@x', 'https://e.test/', '\n', '> ', FENCE, '<', '('];
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
  for (let n = 0; n < 400; n++) {
    let s = '';
    for (let k = next() % 30; k > 0; k--) s += alphabet[next() % alphabet.length];
    const el = draw(s, ['x'], 'x');
    assertSafe(el);
    const blocks = parse(s);
    if (!blocks.some((b) => b.kind === 'fence' && b.lang)) assertAccountsFor(s);
  }
});

test('plainText reads as the formatted text does, markers gone, on one line', () => {
  assert.equal(plainText('Who is on call for the **deploy** _tonight_?'), 'Who is on call for the deploy tonight?');
  assert.equal(plainText('> quoted\nthen `code` and\n```\nfenced\n```'), 'quoted then code and fenced');
  assert.equal(plainText('snake_case_name and 2*3'), 'snake_case_name and 2*3');
});
