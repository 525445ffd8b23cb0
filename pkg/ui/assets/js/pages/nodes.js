// The nodes: status, eligibility and drain, drivers, and the resources
// their allocations use out of what they offer.

import { model, terminal } from '../model.js';
import { html, raw, badge, idLink, nodeHref, bar, mhz, mib, sortBy, page, pagerHTML, coalesce, num } from '../util.js';
import { setQuery } from '../nav.js';

// used sums what the live allocations of a node ask for.
export function used(nodeID) {
  let cpu = 0;
  let mem = 0;
  let n = 0;
  for (const a of model.nodeAllocs(nodeID)) {
    if (terminal(a)) continue;
    cpu += a.cpu;
    mem += a.mem;
    n++;
  }
  return { cpu, mem, n };
}

export const nodeState = (n) => (n.status !== 'ready' ? 'down' : n.drain ? 'draining' : !n.eligible ? 'ineligible' : 'ready');

export default {
  title: () => 'Nodes',
  kinds: () => ['nodes', 'allocs'],
  mount(root, route) {
    const q = { q: '', status: '', dc: '', sort: 'name', desc: '', p: '1', ...route.query };
    const dcs = [...new Set([...model.nodes.values()].map((n) => n.dc))].sort();
    root.innerHTML = html`<div class="head"><div><h1>Nodes</h1></div><div class="actions"><a class="button" href="#/topology">Topology</a></div></div>
      <form class="filters" role="search" aria-label="filter nodes">
        <div class="grow"><label for="n-q">Search</label><input id="n-q" type="search" name="q" value="${q.q}" placeholder="name, ID or address  ( / )" autocomplete="off"></div>
        <div><label for="n-s">Status</label><select id="n-s" name="status">${['', 'ready', 'draining', 'ineligible', 'down'].map((s) => html`<option value="${s}" ${s === q.status ? raw('selected') : ''}>${s || 'any'}</option>`)}</select></div>
        <div><label for="n-dc">Datacenter</label><select id="n-dc" name="dc">${['', ...dcs].map((s) => html`<option value="${s}" ${s === q.dc ? raw('selected') : ''}>${s || 'all'}</option>`)}</select></div>
      </form><div id="nodes-table"></div>`;
    const table = root.querySelector('#nodes-table');
    const draw = () => {
      const needle = q.q.toLowerCase();
      let rows = [];
      for (const n of model.nodes.values()) {
        const st = nodeState(n);
        if (q.status && st !== q.status) continue;
        if (q.dc && n.dc !== q.dc) continue;
        if (needle && !`${n.name} ${n.id} ${n.addr || ''}`.toLowerCase().includes(needle)) continue;
        rows.push({ n, st, u: used(n.id) });
      }
      const keys = { name: (r) => r.n.name, status: (r) => r.st, dc: (r) => r.n.dc, allocs: (r) => r.u.n, cpu: (r) => r.u.cpu / (r.n.cpu || 1), mem: (r) => r.u.mem / (r.n.mem || 1) };
      rows = sortBy(rows, keys[q.sort] || keys.name, q.desc === '1');
      const pg = page(rows, Number(q.p));
      const th = (key, label) => html`<th scope="col" aria-sort="${q.sort === key ? (q.desc === '1' ? 'descending' : 'ascending') : 'none'}"><button type="button" class="sort" data-sort="${key}">${label}${q.sort === key ? (q.desc === '1' ? ' ↓' : ' ↑') : ''}</button></th>`;
      table.innerHTML = html`<div class="table-wrap"><table class="nav" aria-label="nodes"><thead><tr><th>ID</th>${th('name', 'Name')}${th('status', 'Status')}${th('dc', 'Datacenter')}<th>Pool</th><th>Drivers</th>${th('allocs', 'Allocations')}${th('cpu', 'CPU')}${th('mem', 'Memory')}</tr></thead><tbody>
        ${pg.rows.map(({ n, st, u }) => html`<tr><td>${idLink(nodeHref(n.id), n.id)}</td><td><a href="${nodeHref(n.id)}">${n.name}</a></td><td>${badge(st)}</td><td>${n.dc}</td><td>${n.pool || 'default'}</td>
          <td>${Object.entries(n.drivers || {}).map(([d, ok]) => html`<span class="${ok ? '' : 'error'}" title="${ok ? 'healthy' : 'unhealthy'}">${d}${ok ? '' : ' ✗'}</span> `)}</td>
          <td>${num(u.n)}</td><td>${bar(u.cpu, n.cpu, 'cpu', mhz)} <span class="muted">${mhz(u.cpu)}/${mhz(n.cpu)}</span></td><td>${bar(u.mem, n.mem, 'memory', mib)} <span class="muted">${mib(u.mem)}/${mib(n.mem)}</span></td></tr>`)}
        </tbody></table></div>${rows.length ? '' : html`<p class="muted">No node matches.</p>`}${pagerHTML(pg)}`;
    };
    root.querySelector('form').addEventListener('input', (e) => {
      q[e.target.name] = e.target.value;
      q.p = '1';
      setQuery({ [e.target.name]: e.target.value, p: '' });
      draw();
    });
    root.querySelector('form').addEventListener('submit', (e) => e.preventDefault());
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
    const later = coalesce(draw, 250);
    return { update: (c) => (c.has('nodes') || c.has('allocs')) && later() };
  },
};
