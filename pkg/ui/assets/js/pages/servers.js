// The servers: each live server, its version and address, and which one
// leads (the leader runs the cluster-wide controllers).

import { model } from '../model.js';
import { html, badge, when, coalesce } from '../util.js';

export default {
  title: () => 'Servers',
  kinds: () => ['servers'],
  mount(root) {
    const draw = () => {
      const list = [...model.servers].sort((a, b) => a.name.localeCompare(b.name));
      const leader = list.find((s) => s.leader);
      root.innerHTML = html`<div class="head"><div><h1>Servers</h1>
        <p class="muted">${list.length} live · ${leader ? html`leader <strong>${leader.name}</strong>` : html`<span class="error">no leader elected</span>`}</p></div></div>
        <div class="table-wrap"><table class="nav" aria-label="servers"><thead><tr><th>Name</th><th>Role</th><th>Address</th><th>Version</th><th>Started</th></tr></thead><tbody>
        ${list.map((s) => html`<tr><td><a href="http://${s.http_addr}/ui/" rel="noopener">${s.name}</a></td><td>${s.leader ? badge('leader') : 'follower'}</td><td class="mono">${s.http_addr}</td><td>${s.version}</td><td>${when(s.start_time)}</td></tr>`)}
        </tbody></table></div>
        <p class="muted">Every server serves this UI and the API; each runs controllers, and the leader also runs the cluster-wide ones (deployments, drains, garbage collection, the census behind the metrics).</p>`;
    };
    draw();
    const later = coalesce(draw, 100);
    return { update: (c) => c.has('servers') && later() };
  },
};
