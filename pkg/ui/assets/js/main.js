// The shell: routes (#/jobs, #/job/<ns>/<id>, …), the navigation, the
// live indicator, the token prompt and the keyboard shortcuts. Each page
// is a module with mount(root, route) returning {update, unmount}.

import { session, call } from './api.js';
import { live } from './live.js';
import { model } from './model.js';
import { refreshTimes, esc } from './util.js';
import { parse } from './nav.js';
import overview from './pages/overview.js';
import jobs from './pages/jobs.js';
import job from './pages/job.js';
import run from './pages/run.js';
import alloc from './pages/alloc.js';
import nodes from './pages/nodes.js';
import node from './pages/node.js';
import topology from './pages/topology.js';
import servers from './pages/servers.js';
import services from './pages/services.js';
import evals from './pages/evals.js';

// routes maps the first segment of the route to its page and its nav item.
const routes = {
  '': [overview, 'overview'], jobs: [jobs, 'jobs'], job: [job, 'jobs'], run: [run, 'jobs'], alloc: [alloc, 'jobs'],
  nodes: [nodes, 'nodes'], node: [node, 'nodes'], topology: [topology, 'topology'], servers: [servers, 'servers'],
  services: [services, 'services'], service: [services, 'services'], evals: [evals, 'evals'], eval: [evals, 'evals'],
};

const main = document.getElementById('main');
let current = null;
let unsub = null;

async function route() {
  const r = parse();
  const [page, nav] = routes[r.path[0] || ''] || [null, ''];
  if (current) {
    current.unmount?.();
    current = null;
  }
  if (unsub) unsub();
  unsub = null;
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  main.innerHTML = '';
  if (!page) {
    main.innerHTML = `<h1>Not found</h1><p>No page at <code>#/${esc(r.hash)}</code>. <a href="#/">Go to the overview</a>.</p>`;
    return;
  }
  document.title = `${page.title ? `${page.title(r)} · ` : ''}nomadic`;
  main.innerHTML = '<p class="muted" id="loading">Loading…</p>';
  const started = performance.now();
  try {
    if (page.kinds) await model.ensure(page.kinds(r));
    if (parse().hash !== r.hash) return; // navigated away meanwhile
    // Each page renders into an element of its own: a render a page had
    // scheduled before it was left goes to a detached element.
    const el = document.createElement('div');
    main.replaceChildren(el);
    const inst = await page.mount(el, r);
    if (parse().hash !== r.hash) {
      inst?.unmount?.();
      return;
    }
    current = inst || {};
    if (current.update) unsub = model.subscribe((changed) => current.update(changed));
    main.dataset.rendered = String(Math.round(performance.now() - started));
    main.dataset.since = String(Math.round(performance.now()));
    main.dataset.route = r.hash;
    main.focus({ preventScroll: true });
  } catch (e) {
    main.innerHTML = `<h1>Cannot show this page</h1><p class="error">${esc(e.message)}</p>`;
  }
}

// The token prompt, and what the header shows about the session.
const dialog = document.getElementById('token-dialog');
function showAuth() {
  document.getElementById('signin').hidden = !session.required || (!!session.token && !session.refused);
  document.getElementById('signout').hidden = !session.token;
}
session.onNeed = (msg) => {
  showAuth();
  if (dialog.open) return;
  document.getElementById('token-error').textContent = session.token ? msg : '';
  dialog.showModal();
  document.getElementById('token-input').focus();
};
document.getElementById('token-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const token = document.getElementById('token-input').value.trim();
  const prev = session.token;
  session.set(token);
  try {
    await call('GET', '/v1/agent/self');
    dialog.close();
    document.getElementById('token-input').value = '';
    showAuth();
    route();
  } catch (err) {
    if (err.status !== 401 && err.status !== 403) session.set(prev);
    document.getElementById('token-error').textContent = err.message;
  }
});
document.getElementById('token-cancel').addEventListener('click', () => dialog.close());
document.getElementById('signin').addEventListener('click', () => session.onNeed(''));
document.getElementById('signout').addEventListener('click', () => {
  session.set('');
  location.reload();
});
document.getElementById('help').addEventListener('click', () => document.getElementById('help-dialog').showModal());

// The live indicator.
const ind = document.getElementById('live');
live.onState((state, l) => {
  ind.dataset.state = state;
  const text = { idle: 'not connected', connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…' }[state];
  ind.querySelector('.text').textContent = text;
  ind.title = state === 'live' ? `following the event stream from index ${l.index}`
    : state === 'reconnecting' ? `the event stream dropped; resuming from index ${l.index}` : '';
});

// Keyboard: g + letter goes to a page, / focuses the page's search, j/k
// move the selection of a list and Enter opens it, ? shows the help.
const goKeys = { o: '#/', j: '#/jobs', n: '#/nodes', t: '#/topology', v: '#/services', e: '#/evals', s: '#/servers' };
let pendingG = 0;
document.addEventListener('keydown', (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const tag = (e.target.tagName || '').toLowerCase();
  if (tag === 'input' || tag === 'textarea' || tag === 'select' || document.querySelector('dialog[open]')) {
    if (e.key === 'Escape' && tag === 'input') e.target.blur();
    return;
  }
  if (pendingG && Date.now() - pendingG < 1500 && goKeys[e.key]) {
    pendingG = 0;
    location.hash = goKeys[e.key];
    e.preventDefault();
    return;
  }
  pendingG = 0;
  if (e.key === 'g') {
    pendingG = Date.now();
  } else if (e.key === '/') {
    const s = main.querySelector('input[type="search"]');
    if (s) {
      e.preventDefault();
      s.focus();
    }
  } else if (e.key === '?') {
    document.getElementById('help-dialog').showModal();
  } else if (e.key === 'j' || e.key === 'k') {
    moveSelection(e.key === 'j' ? 1 : -1);
  } else if (e.key === 'Enter') {
    const sel = main.querySelector('tr.sel a[href]');
    if (sel && document.activeElement === document.body) location.hash = sel.getAttribute('href');
  }
});

// moveSelection moves the highlighted row of the page's first list.
function moveSelection(d) {
  const rows = [...main.querySelectorAll('table.nav tbody tr')];
  if (!rows.length) return;
  let i = rows.findIndex((r) => r.classList.contains('sel'));
  if (i >= 0) rows[i].classList.remove('sel');
  i = Math.max(0, Math.min(rows.length - 1, i + d));
  rows[i].classList.add('sel');
  rows[i].scrollIntoView({ block: 'nearest' });
  const a = rows[i].querySelector('a[href]');
  if (a) a.focus({ preventScroll: true });
}

setInterval(() => refreshTimes(main), 5000);
window.addEventListener('hashchange', route);
// Exposed for the browser tests and the benchmarks.
window.nomadic = { model, live, session };
showAuth();
route();
