// Services of the built-in catalog, with how many instances pass their
// checks; a service's page lists its instances and their checks.

import { get } from '../api.js';
import { follow } from '../follow.js';
import { html, badge, idLink, allocHref, nodeHref, jobHref, when } from '../util.js';
import { toast } from '../nav.js';

function list(root) {
  root.innerHTML = html`<div class="head"><div><h1>Services</h1><p class="muted">Registered by the tasks' service blocks; an instance is healthy when all its checks pass.</p></div></div><div id="svc"></div>`;
  const el = root.querySelector('#svc');
  const f = follow({
    parts: { s: '/v1/services' },
    match: (ev) => (ev.topic === 'Service' ? ['s'] : []),
    render: ({ s }) => {
      const rows = s || [];
      el.innerHTML = rows.length ? html`<div class="table-wrap"><table class="nav" aria-label="services"><thead><tr><th>Service</th><th>Namespace</th><th>Health</th><th>Instances</th><th>Tags</th></tr></thead><tbody>
        ${rows.map((x) => html`<tr><td><a href="#/service/${encodeURIComponent(x.namespace)}/${encodeURIComponent(x.name)}">${x.name}</a></td><td>${x.namespace}</td>
          <td>${badge(x.healthy === x.instances ? 'healthy' : x.healthy === 0 ? 'critical' : 'pending', '')}</td><td>${x.healthy}/${x.instances} healthy</td><td>${(x.tags || []).join(', ')}</td></tr>`)}
        </tbody></table></div>` : html`<p class="muted">No service is registered.</p>`;
    },
    onError: (e) => toast(e.message, true),
  });
  return { unmount: () => f.stop() };
}

function one(root, route) {
  const [ns, name] = [route.path[1], route.path[2]];
  root.innerHTML = html`<div class="crumbs"><a href="#/services">Services</a> / ${ns}</div><h1>${name}</h1><div id="svc"></div>`;
  const el = root.querySelector('#svc');
  const f = follow({
    parts: { s: `/v1/service/${encodeURIComponent(name)}?namespace=${encodeURIComponent(ns)}` },
    match: (ev) => (ev.topic === 'Service' && ev.key.startsWith(`${ns}/${name}/`) ? ['s'] : []),
    render: ({ s }) => {
      const rows = s || [];
      el.innerHTML = rows.length ? html`<div class="table-wrap"><table class="nav" aria-label="instances"><thead><tr><th>Address</th><th>Health</th><th>Job</th><th>Allocation</th><th>Node</th><th class="wrap">Checks</th></tr></thead><tbody>
        ${rows.map((x) => {
          const ok = (x.checks || []).every((c) => c.status === 'passing');
          return html`<tr><td class="mono">${x.address}:${x.port}</td><td>${badge(ok ? 'healthy' : 'unhealthy')}</td><td><a href="${jobHref(x.namespace, x.job_id)}">${x.job_id}</a></td>
            <td>${idLink(allocHref(x.alloc_id), x.alloc_id)}</td><td>${idLink(nodeHref(x.node_id), x.node_id)}</td>
            <td class="wrap">${(x.checks || []).map((c) => html`<div>${badge(c.status)} ${c.name} (${c.type}) ${when(c.time)} <span class="muted">${c.output || ''}</span></div>`)}</td></tr>`;
        })}</tbody></table></div>` : html`<p class="muted">The service has no instance now.</p>`;
    },
    onError: (e) => toast(e.message, true),
  });
  return { unmount: () => f.stop() };
}

export default {
  title: (r) => (r.path[0] === 'service' ? `Service ${r.path[2]}` : 'Services'),
  mount: (root, route) => (route.path[0] === 'service' ? one(root, route) : list(root)),
};
