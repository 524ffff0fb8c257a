// The page's modules form layers: no import cycles anywhere under assets/,
// and each module of the page (js/page/) imports only layers before it:
//   dom.js < state.js < model.js < the views (in VIEWS order) < sync.js < app.js
// where state.js and model.js import nothing with a DOM (dom.js, views).
// The pure modules in js/ may be imported by any layer and import only
// each other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ASSETS = resolve(dirname(fileURLToPath(import.meta.url)), '../assets');
const VIEWS = ['messages', 'rooms', 'session', 'actions'].map((v) => `js/page/${v}.js`);

// Every .js file under assets/, by its path there ("js/page/state.js").
function modules(dir = ASSETS) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return modules(path);
    return e.name.endsWith('.js') ? [relative(ASSETS, path).split('\\').join('/')] : [];
  });
}

// What a module imports (static `import ... from '...'`, `import '...'`
// and `export ... from '...'`), as paths under assets/.
function importsOf(file) {
  const src = readFileSync(join(ASSETS, file), 'utf8');
  assert.ok(!/\bimport\s*\(/.test(src), `${file}: a dynamic import() is not followed by this test`);
  const re = /^\s*(?:import\s*|(?:import|export)\b[^'";()]*?\bfrom\s*)['"]([^'"]+)['"]/gm;
  const out = [];
  let m;
  while ((m = re.exec(src)) !== null) {
    out.push(relative(ASSETS, resolve(ASSETS, dirname(file), m[1])).split('\\').join('/'));
  }
  return out;
}

function graph() {
  const g = new Map();
  for (const f of modules()) g.set(f, importsOf(f));
  return g;
}

// One import cycle as a path (a -> b -> a), or null.
function findCycle(g) {
  const state = new Map(); // 1: on the current path, 2: done
  const path = [];
  function visit(f) {
    state.set(f, 1);
    path.push(f);
    for (const to of g.get(f) || []) {
      if (state.get(to) === 1) return path.slice(path.indexOf(to)).concat(to);
      if (!state.has(to)) {
        const c = visit(to);
        if (c) return c;
      }
    }
    path.pop();
    state.set(f, 2);
    return null;
  }
  for (const f of [...g.keys()].sort()) {
    if (!state.has(f)) {
      const c = visit(f);
      if (c) return c;
    }
  }
  return null;
}

// Which layer a module is in; null for a page module this test does not know.
function layer(f) {
  if (f === 'app.js') return 'app';
  if (/^js\/[^/]+\.js$/.test(f)) return 'lib';
  if (f === 'js/page/dom.js') return 'dom';
  if (f === 'js/page/state.js') return 'state';
  if (f === 'js/page/model.js') return 'model';
  if (VIEWS.includes(f)) return 'view';
  if (f === 'js/page/sync.js') return 'sync';
  return null;
}

// What each layer may import.
const MAY = {
  lib: ['lib'],
  dom: ['lib'],
  state: ['lib'],
  model: ['lib', 'state'],
  view: ['lib', 'dom', 'state', 'model', 'view'],
  sync: ['lib', 'dom', 'state', 'model', 'view'],
  app: ['lib', 'dom', 'state', 'model', 'view', 'sync'],
};

test('every import names a module under assets/', () => {
  const g = graph();
  for (const [f, deps] of g) {
    for (const d of deps) assert.ok(g.has(d), `${f} imports ${d}, which is not under assets/`);
  }
});

test('no import cycles', () => {
  const cycle = findCycle(graph());
  assert.equal(cycle, null, cycle && `import cycle: ${cycle.join(' -> ')}`);
});

test('each module of the page imports only layers before its own', () => {
  const bad = [];
  for (const [f, deps] of graph()) {
    const from = layer(f);
    if (!from) { bad.push(`${f}: not in a layer (add it to tests/layers.test.js)`); continue; }
    for (const d of deps) {
      const to = layer(d);
      let ok = MAY[from].includes(to);
      // Views import only views before them.
      if (ok && from === 'view' && to === 'view') ok = VIEWS.indexOf(d) < VIEWS.indexOf(f);
      if (!ok) bad.push(`${f} (${from}) imports ${d} (${to || 'no layer'})`);
    }
  }
  assert.deepEqual(bad, []);
});
