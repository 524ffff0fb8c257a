/* A message's text with light formatting: first as data (parse), then as
 * DOM nodes made one by one with createElement and createTextNode (render),
 * never as HTML, so nothing a person writes can become markup or a script.
 *
 * Blocks, line by line: a line of three backticks (and at most one word of
 * letters, digits and +#.-_ after them, the language, kept as data and never
 * used) opens code that runs to the next line of just three backticks, or to
 * the end of the text; consecutive lines starting with "> " (or a lone ">")
 * form a quote; any other run of lines, blank ones included, is a
 * paragraph, so the lines show as written.
 *
 * Inside a line: code between single backticks (nothing in it is
 * formatted), http(s) links (nothing in them either), **bold**, _italic_
 * and @mentions; links and mentions as text.js finds them. An underscore
 * opens only after a non-word character and closes only before one, so
 * snake_case_names stay plain. A marker that does not close is text. Bold
 * and italic nest, up to MAX_DEPTH deep: each line is read in one pass with
 * a stack of open markers that is never searched deeper than that, so no
 * run of markers makes the page slow. */
import { findLinks, safeHref, segments } from './text.js';

const FENCE_OPEN = /^\s*\x60{3}\s*([\w+#.-]*)\s*$/; // \x60: a backtick
const FENCE_CLOSE = /^\s*\x60{3}\s*$/;
const CODE_SPAN = /\x60[^\x60]+\x60/g;
// What a link found in the raw line gives back when it ends there: the
// markers that may close around it, and the punctuation text.js leaves out.
const LINK_END = /[*_.,;:!?)\]}]+$/;
const WORD = /[\p{L}\p{N}_]/u;
const SPACE = /\s/;
const MAX_DEPTH = 8;

const isQuote = (line) => line === '>' || line.startsWith('> ');
const isWord = (c) => !!c && WORD.test(c);
const isSpace = (c) => !c || SPACE.test(c);

// The blocks of a text, in order:
//   { kind: 'para', lines }, { kind: 'quote', lines } (without the "> "),
//   { kind: 'fence', lang, text } (lang is '' when there is none),
// where lines holds one list of inline nodes per line:
//   { kind: 'text', text }, { kind: 'code', text }, { kind: 'link', text, href },
//   { kind: 'mention', text, me }, { kind: 'strong', children },
//   { kind: 'em', children }.
// names and own as text.js segments takes them (names longest first).
export function parse(text, names = [], own = null) {
  const lines = String(text == null ? '' : text).split('\n');
  const out = [];
  let i = 0;
  while (i < lines.length) {
    const fence = FENCE_OPEN.exec(lines[i]);
    let j = i + 1;
    if (fence) {
      while (j < lines.length && !FENCE_CLOSE.test(lines[j])) j++;
      out.push({ kind: 'fence', lang: fence[1], text: lines.slice(i + 1, j).join('\n') });
      i = j + 1;
      continue;
    }
    const quote = isQuote(lines[i]);
    while (j < lines.length && isQuote(lines[j]) === quote && !FENCE_OPEN.test(lines[j])) j++;
    const part = lines.slice(i, j).map((l) => inline(quote ? l.slice(2) : l, names, own));
    out.push({ kind: quote ? 'quote' : 'para', lines: part });
    i = j;
  }
  return out;
}

// One line as inline nodes.
function inline(line, names, own) {
  // The line in pieces: code spans and links (never looked into again),
  // markers that may open or close, and text.
  const pieces = [];
  const text = (from, to) => { if (to > from) pieces.push({ kind: 'text', text: line.slice(from, to) }); };
  const markers = (from, to) => {
    let last = from;
    for (let k = from; k < to; k++) {
      const c = line[k];
      let run = 1;
      if (c === '*') while (k + run < to && line[k + run] === '*') run++;
      else if (c !== '_') continue;
      const before = line[k - 1], after = line[k + run];
      let open, close;
      // Only a pair of stars is bold; longer or shorter runs are text.
      if (c === '*') {
        open = run === 2 && !isSpace(after);
        close = run === 2 && !isSpace(before);
      } else {
        open = !isWord(before) && !isSpace(after) && after !== '_';
        close = !isWord(after) && !isSpace(before) && before !== '_';
      }
      if (open || close) {
        text(last, k);
        pieces.push({ kind: 'mark', type: c === '*' ? 'strong' : 'em', text: line.slice(k, k + run), open, close });
        last = k + run;
      }
      k += run - 1;
    }
    text(last, to);
  };
  const links = (from, to) => {
    let last = from;
    for (const l of findLinks(line.slice(from, to))) {
      const t = l.text.replace(LINK_END, ''), href = safeHref(t);
      if (!href) continue;
      markers(last, from + l.start);
      pieces.push({ kind: 'link', text: t, href });
      last = from + l.start + t.length;
    }
    markers(last, to);
  };
  let last = 0;
  for (const m of line.matchAll(CODE_SPAN)) {
    links(last, m.index);
    pieces.push({ kind: 'code', text: m[0].slice(1, -1) });
    last = m.index + m[0].length;
  }
  links(last, line.length);

  // Pair the markers: a closer takes the nearest open marker of its kind
  // on the stack, and the ones opened after it stay text.
  const stack = [];
  pieces.forEach((p, k) => {
    if (p.kind !== 'mark') return;
    let d = p.close ? stack.length - 1 : -1;
    while (d >= 0 && pieces[stack[d]].type !== p.type) d--;
    if (d >= 0) {
      pieces[stack[d]].pair = k;
      p.pair = stack[d];
      stack.length = d;
    } else if (p.open && stack.length < MAX_DEPTH) stack.push(k);
  });

  // Build the tree; unpaired markers join the text around them.
  const root = { children: [] }, path = [root];
  pieces.forEach((p, k) => {
    const into = path[path.length - 1].children, prev = into[into.length - 1];
    if (p.kind === 'mark' && p.pair !== undefined) {
      if (p.pair < k) { path.pop(); return; }
      const n = { kind: p.type, children: [] };
      into.push(n);
      path.push(n);
    } else if (p.kind === 'mark' || p.kind === 'text') {
      if (prev && prev.kind === 'text') prev.text += p.text;
      else into.push({ kind: 'text', text: p.text });
    } else into.push(p);
  });
  return leaves(root.children, names, own);
}

// Text nodes cut into text, links and mentions by text.js (a link can show
// up only here, e.g. right after an underscore that opens italic).
function leaves(nodes, names, own) {
  return nodes.flatMap((n) => {
    if (n.children) n.children = leaves(n.children, names, own);
    return n.kind === 'text' ? segments(n.text, names, own) : [n];
  });
}

// Fills el with the text's blocks and returns it. Only createElement,
// createTextNode, appendChild and the className, href, rel and target
// properties are used. Line breaks are kept as '\n' in text nodes (the
// message body has white-space: pre-wrap).
// The text as it reads once formatted, without its markers, on one line:
// for quotes of it (a reply's, the reply bar's).
export function plainText(text) {
  const words = (nodes) => nodes.map((n) => (n.children ? words(n.children) : n.text)).join('');
  return parse(String(text)).map((b) => (b.kind === 'fence' ? b.text : b.lines.map(words).join(' ')))
    .join(' ').replace(/\s+/g, ' ').trim();
}

export function render(doc, el, text, names, own) {
  const blocks = parse(text, names || [], own || null);
  blocks.forEach((b, k) => {
    if (b.kind === 'fence') {
      const pre = doc.createElement('pre');
      pre.appendChild(doc.createElement('code')).appendChild(doc.createTextNode(b.text));
      el.appendChild(pre);
      return;
    }
    const box = doc.createElement(b.kind === 'quote' ? 'blockquote' : 'p');
    b.lines.forEach((line, n) => {
      if (n) box.appendChild(doc.createTextNode('\n'));
      inlineNodes(doc, box, line);
    });
    // A line break at the end of a block makes no line, so an empty last
    // line before another block gets a br to show; at the very end of the
    // message a trailing newline showed nothing before either.
    if (!b.lines[b.lines.length - 1].length && k < blocks.length - 1) box.appendChild(doc.createElement('br'));
    el.appendChild(box);
  });
  return el;
}

const TAG = { strong: 'strong', em: 'em', code: 'code', link: 'a', mention: 'span' };

function inlineNodes(doc, parent, nodes) {
  for (const n of nodes) {
    const href = n.kind === 'link' ? safeHref(n.href) : null;
    if (!TAG[n.kind] || (n.kind === 'link' && !href)) {
      parent.appendChild(doc.createTextNode(n.text || ''));
      continue;
    }
    const e = parent.appendChild(doc.createElement(TAG[n.kind]));
    if (href) {
      e.href = href;
      e.rel = 'noopener noreferrer';
      e.target = '_blank';
    }
    if (n.kind === 'mention') e.className = n.me ? 'mention me' : 'mention';
    if (n.children) inlineNodes(doc, e, n.children);
    else e.appendChild(doc.createTextNode(n.text));
  }
}
