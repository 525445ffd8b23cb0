// The jobs list: filter by namespace, status and type, search by name,
// sort, page through; every row follows the event stream.

import { model, clientStatus, jobStatus } from '../model.js';
import { html, raw, badge, when, num, jobHref, sortBy, page, pagerHTML, coalesce } from '../util.js';
import { setQuery } from '../nav.js';

const STATUSES = ['running', 'pending', 'dead'];
const TYPES = ['service', 'batch', 'system', 'sysbatch'];

function options(list, sel, all) {
  return [html`<option value="">${all}</option>`, ...list.map((v) => html`<option value="${v}" ${v === sel ? raw('selected') : ''}>${v}</option>`)];
}

export default {
  title: () => 'Jobs',
  kinds: () => ['jobs', 'allocs', 'evals'],
  mount(root, route) {
    const q = { ns: '', status: '', type: '', q: '', sort: 'id', desc: '', p: '1', ...route.query };
    const namespaces = () => [...new Set([...model.jobs.values()].map((j) => j.ns))].sort();
    root.innerHTML = html`
      <div class="head"><div><h1>Jobs</h1></div>
        <div class="actions"><a class="button primary" href="#/run">Run a job</a></div></div>
      <form class="filters" role="search" aria-label="filter jobs">
        <div class="grow"><label for="f-q">Search</label><input id="f-q" type="search" name="q" value="${q.q}" placeholder="name or ID  ( / )" autocomplete="off"></div>
        <div><label for="f-ns">Namespace</label><select id="f-ns" name="ns">${options(namespaces(), q.ns, 'all')}</select></div>
        <div><label for="f-status">Status</label><select id="f-status" name="status">${options(STATUSES, q.status, 'any')}</select></div>
        <div><label for="f-type">Type</label><select id="f-type" name="type">${options(TYPES, q.type, 'any')}</select></div>
      </form>
      <div id="jobs-table"></div>`;
    const table = root.querySelector('#jobs-table');
    const form = root.querySelector('form');
    const draw = () => {
      const needle = q.q.toLowerCase();
      let rows = [];
      for (const j of model.jobs.values()) {
        if (q.ns && j.ns !== q.ns) continue;
        if (q.type && j.type !== q.type) continue;
        if (needle && !j.id.toLowerCase().includes(needle) && !(j.name || '').toLowerCase().includes(needle)) continue;
        const allocs = model.jobAllocs(j.ns, j.id);
        const status = jobStatus(j, allocs, model.jobEvals(j.ns, j.id));
        if (q.status && status !== q.status) continue;
        const c = { running: 0, pending: 0, failed: 0, other: 0 };
        for (const a of allocs) {
          const cs = clientStatus(a);
          if (cs === 'running') c.running++;
          else if (cs === 'pending') { if (a.ds === 'run') c.pending++; }
          else if (cs === 'failed' || cs === 'lost') c.failed++;
        }
        const want = j.stop ? 0 : j.groups.reduce((s, g) => s + g.count, 0);
        rows.push({ j, status, c, want });
      }
      const keys = { id: (r) => r.j.id, status: (r) => r.status, type: (r) => r.j.type, priority: (r) => r.j.priority, submit: (r) => r.j.submit || '', running: (r) => r.c.running };
      rows = sortBy(rows, keys[q.sort] || keys.id, q.desc === '1');
      const pg = page(rows, Number(q.p));
      const th = (key, label) => html`<th scope="col" aria-sort="${q.sort === key ? (q.desc === '1' ? 'descending' : 'ascending') : 'none'}"><button type="button" class="sort" data-sort="${key}">${label}${q.sort === key ? (q.desc === '1' ? ' ↓' : ' ↑') : ''}</button></th>`;
      table.innerHTML = html`
        <div class="table-wrap"><table class="nav" aria-label="jobs">
          <thead><tr>${th('id', 'Job')}<th scope="col">Namespace</th>${th('type', 'Type')}${th('priority', 'Priority')}${th('status', 'Status')}
            ${th('running', 'Running')}<th scope="col">Pending</th><th scope="col">Failed</th><th scope="col">Groups</th><th scope="col">Version</th>${th('submit', 'Submitted')}</tr></thead>
          <tbody>${pg.rows.map(({ j, status, c, want }) => html`<tr data-key="${j.ns}/${j.id}">
            <td><a href="${jobHref(j.ns, j.id)}">${j.id}</a>${j.parent ? html` <span class="muted">child of ${j.parent}</span>` : ''}</td>
            <td>${j.ns}</td><td>${j.type}${j.template ? html` <span class="muted">(launches children)</span>` : ''}</td><td>${j.priority}</td>
            <td>${badge(status)}</td><td>${num(c.running)}<span class="muted">/${num(want)}</span></td><td>${num(c.pending)}</td>
            <td>${c.failed ? html`<span class="error">${num(c.failed)}</span>` : '0'}</td><td>${j.groups.length}</td><td>${j.version}</td><td>${when(j.submit)}</td></tr>`)}
          </tbody></table></div>
        ${rows.length === 0 ? html`<p class="muted">${model.jobs.size ? 'No job matches the filters.' : 'No job yet: run one.'}</p>` : ''}
        ${pagerHTML(pg)}`;
    };
    form.addEventListener('input', (e) => {
      q[e.target.name] = e.target.value;
      q.p = '1';
      setQuery({ [e.target.name]: e.target.value, p: '' });
      draw();
    });
    form.addEventListener('submit', (e) => e.preventDefault());
    table.addEventListener('click', (e) => {
      const s = e.target.closest('[data-sort]');
      if (s) {
        q.desc = q.sort === s.dataset.sort && q.desc !== '1' ? '1' : '';
        q.sort = s.dataset.sort;
        setQuery({ sort: q.sort, desc: q.desc });
        draw();
      }
      const p = e.target.closest('[data-page]');
      if (p) {
        q.p = p.dataset.page;
        setQuery({ p: q.p });
        draw();
      }
    });
    draw();
    const later = coalesce(draw, 200);
    return { update: (changed) => { if (changed.has('jobs') || changed.has('allocs') || changed.has('evals')) later(); } };
  },
};
