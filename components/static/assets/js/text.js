/* A message's text as the page shows it: http(s) links and @mentions found
 * in it, as a list of segments the page turns into text nodes, anchors and
 * spans (never HTML). No DOM here.
 *
 * Mentions: "@name", and "@" followed by one's own name (case-insensitive)
 * is a mention of me. Names may contain spaces ("Ada Lovelace"), so the
 * names the page knows (one's own, the open room's authors, the people here
 * now) are tried first, longest first; otherwise "@" and a word. An "@"
 * right after a letter or digit (an e-mail address) is not a mention. */

const URL_RE = /\bhttps?:\/\/[^\s<>"'\x60]+/gi; // \x60: a backtick
const TRAILING_PUNCTUATION = /[.,;:!?)\]}]+$/;
const WORD_CHAR = /[\p{L}\p{N}_]/u;
const MENTION_WORD = /^@[\p{L}\p{N}_](?:[\p{L}\p{N}_.-]*[\p{L}\p{N}_])?/u;

// The link's address re-serialised by URL, when it is http(s); else null.
export function safeHref(s) {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch (e) { return null; }
}

// The http(s) links in a text: { start, end, text, href }. Punctuation that
// ends a sentence is not part of the link.
export function findLinks(text) {
  const out = [];
  const re = new RegExp(URL_RE.source, URL_RE.flags);
  let m;
  while ((m = re.exec(text)) !== null) {
    const link = m[0].replace(TRAILING_PUNCTUATION, '');
    const href = safeHref(link);
    if (!href) continue;
    out.push({ start: m.index, end: m.index + link.length, text: link, href });
    re.lastIndex = m.index + link.length;
  }
  return out;
}

// The names to try, each once (case-insensitively, the first spelling
// kept), longest first.
export function orderNames(names) {
  const byLower = new Map();
  for (const n of names) {
    if (typeof n === 'string' && n && !byLower.has(n.toLowerCase())) byLower.set(n.toLowerCase(), n);
  }
  return Array.from(byLower.values()).sort((a, b) => b.length - a.length);
}

// The mentions in a text: { start, end, me }. `names` as orderNames gives
// them; `own` is one's own name, or null when not signed in.
export function findMentions(text, names, own) {
  const out = [];
  if (text.indexOf('@') === -1) return out;
  const me = own ? own.toLowerCase() : null;
  for (let i = text.indexOf('@'); i !== -1; i = text.indexOf('@', i + 1)) {
    if (i > 0 && WORD_CHAR.test(text.charAt(i - 1))) continue;
    let len = 0;
    for (let k = 0; k < names.length && !len; k++) {
      const n = names[k], cand = text.substr(i + 1, n.length);
      if (cand.length === n.length && cand.toLowerCase() === n.toLowerCase() &&
          !WORD_CHAR.test(text.charAt(i + 1 + n.length))) len = n.length;
    }
    if (!len) {
      const w = MENTION_WORD.exec(text.slice(i, i + 80));
      if (w) len = w[0].length - 1;
    }
    if (!len) continue;
    out.push({ start: i, end: i + 1 + len, me: me !== null && text.substr(i + 1, len).toLowerCase() === me });
    i += len;
  }
  return out;
}

// A text cut into segments, in order, that join back to it:
// { kind: 'text', text }, { kind: 'link', text, href },
// { kind: 'mention', text, me }. Mentions are looked for outside links.
export function segments(text, names, own) {
  text = String(text);
  const out = [];
  const plain = (from, to) => {
    if (to <= from) return;
    const part = text.slice(from, to);
    let last = 0;
    for (const mt of findMentions(part, names, own)) {
      if (mt.start > last) out.push({ kind: 'text', text: part.slice(last, mt.start) });
      out.push({ kind: 'mention', text: part.slice(mt.start, mt.end), me: mt.me });
      last = mt.end;
    }
    if (last < part.length) out.push({ kind: 'text', text: part.slice(last) });
  };
  let last = 0;
  for (const l of findLinks(text)) {
    plain(last, l.start);
    out.push({ kind: 'link', text: l.text, href: l.href });
    last = l.end;
  }
  plain(last, text.length);
  return out;
}

export function mentionsMe(text, names, own) {
  return !!own && findMentions(String(text || ''), names, own).some((mt) => mt.me);
}

// The first n characters of a text (whole code points), with an ellipsis.
export function excerpt(text, n) {
  const chars = Array.from(String(text || ''));
  return chars.length > n ? chars.slice(0, n).join('') + '…' : chars.join('');
}

// Why a name would be refused (the server's rules), or '' when it is fine.
export function nameProblem(name) {
  const len = Array.from(name).length;
  if (len < 1) return 'Please enter a name.';
  if (len > 32) return 'Names can be at most 32 characters.';
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return 'Names can only contain printable characters.';
  return '';
}
