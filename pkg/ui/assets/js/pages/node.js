// A node: its status, eligibility and drain with their buttons, drivers,
// resources used out of total, attributes, and its allocations.

import { call } from '../api.js';
import { follow } from '../follow.js';
import { html, badge, when, bar, mhz, mib, short } from '../util.js';
import { toast } from '../nav.js';
import { allocTable, allocStatus, action } from './job.js';

export default {
  title: (r) => `Node ${short(r.path[1])}`,
  mount(root, route) {
    const id = route.path[1];
    root.innerHTML = html`<div class="crumbs"><a href="#/nodes">Nodes</a></div><div id="node-body"><p class="muted">Loading…</p></div>`;
    const body = root.querySelector('#node-body');
    let full = id;
    const render = ({ n, allocs }) => {
      if (!n) {
        body.innerHTML = html`<p class="error">No node ${id}.</p>`;
        return;
      }
      full = n.id;
      const list = allocs || [];
      const live = list.filter((a) => !['complete', 'failed', 'lost'].includes(allocStatus(a)) && !(a.desired_status === 'stop' && !a.status));
      const cpu = live.reduce((s, a) => s + (a.resources?.cpu || 0), 0);
      const mem = live.reduce((s, a) => s + (a.resources?.memory || 0), 0);
      const disk = live.reduce((s, a) => s + (a.resources?.disk || 0), 0);
      const ready = n.status === 'ready';
      const state = !ready ? 'down' : n.drain ? 'draining' : !n.eligible ? 'ineligible' : 'ready';
      const drain = n.drain
        ? action('Stop draining', 'undrain', '')
        : action('Drain', 'drain', !ready ? 'the node is down' : live.length === 0 && !n.eligible ? 'the node is empty and ineligible' : '', 'danger');
      const elig = n.eligible ? action('Make ineligible', 'ineligible', '') : action('Make eligible', 'eligible', n.drain ? 'stop draining first' : '');
      body.innerHTML = html`<div class="head"><div><h1>${n.name} ${badge(state)}</h1>
          <p class="muted"><span class="id" title="${n.id}">${short(n.id)}</span> · ${n.datacenter} · pool ${n.node_pool || 'default'}${n.node_class ? ` · class ${n.node_class}` : ''} · ${n.address || ''}</p></div>
          <div class="actions" id="node-actions">${elig}${drain}</div></div>
        ${n.drain ? html`<div class="panel" role="status"><strong>Draining</strong> since ${when(n.drain.started_at)}${n.drain.deadline && !n.drain.deadline.startsWith('0001') ? html`, deadline ${when(n.drain.deadline)}` : ', no deadline'}: ${live.length} allocation(s) left.</div>` : ''}
        <div class="grid2"><div class="panel"><h2>Resources</h2><dl class="props">
          <dt>CPU</dt><dd>${bar(cpu, n.resources.cpu, 'cpu', mhz)} ${mhz(cpu)} of ${mhz(n.resources.cpu)}</dd>
          <dt>Memory</dt><dd>${bar(mem, n.resources.memory, 'memory', mib)} ${mib(mem)} of ${mib(n.resources.memory)}</dd>
          ${n.resources.disk ? html`<dt>Disk</dt><dd>${bar(disk, n.resources.disk, 'disk', mib)} ${mib(disk)} of ${mib(n.resources.disk)}</dd>` : ''}
          <dt>Registered</dt><dd>${when(n.register_time)}</dd></dl></div>
          <div class="panel"><h2>Drivers</h2><ul class="events">${Object.entries(n.drivers || {}).sort().map(([d, i]) => html`<li>${badge(!i.detected ? 'none' : i.healthy ? 'healthy' : 'unhealthy')} ${d}${i.reason ? html` <span class="muted">${i.reason}</span>` : ''}</li>`)}</ul></div></div>
        <h2>Allocations</h2>${allocTable(list.sort((a, b) => (b.modify_time || '').localeCompare(a.modify_time || '')), { showJob: true, showNode: false })}
        <details><summary>Attributes and metadata</summary><dl class="props">${Object.entries({ ...(n.attributes || {}), ...Object.fromEntries(Object.entries(n.meta || {}).map(([k, v]) => [`meta.${k}`, v])) }).sort().map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl></details>`;
    };
    const f = follow({
      parts: { n: `/v1/node/${encodeURIComponent(id)}`, allocs: `/v1/allocations?node=${encodeURIComponent(id)}` },
      match: (ev) => {
        if (ev.topic === 'Node' && ev.key === full) return ['n'];
        if (ev.topic === 'Allocation' && ev.key.startsWith(`${full}/`)) return ['allocs'];
        return [];
      },
      render,
      onError: (e) => toast(e.message, true),
    });
    root.addEventListener('click', async (e) => {
      const b = e.target.closest('button[data-act]');
      if (!b || b.disabled) return;
      const act = b.dataset.act;
      try {
        if (act === 'drain') {
          if (!confirm('Drain this node? Its allocations move to other nodes per their migrate policy, and it takes no new ones.')) return;
          await call('PUT', `/v1/node/${full}/drain`, { enable: true, deadline: '1h' });
          toast('Draining the node.');
        } else if (act === 'undrain') {
          await call('PUT', `/v1/node/${full}/drain`, { enable: false });
          toast('The drain is stopped.');
        } else {
          await call('PUT', `/v1/node/${full}/eligibility`, { eligible: act === 'eligible' });
          toast(act === 'eligible' ? 'The node takes new allocations.' : 'The node takes no new allocations.');
        }
        f.refresh();
      } catch (x) {
        toast(x.message, true);
      }
    });
    return { unmount: () => f.stop() };
  },
};
