// The cluster overview: jobs, allocations and nodes by status, the
// servers and their leader, running deployments and recent failures.

import { model, clientStatus } from '../model.js';
import { html, badge, when, num, idLink, jobHref, allocHref, evalHref, short, sortBy, coalesce } from '../util.js';
import { explainFailures } from './evals.js';

const HOUR = 3600 * 1000;

function counts(list, key) {
  const c = {};
  for (const x of list) {
    const k = key(x);
    c[k] = (c[k] || 0) + 1;
  }
  return c;
}

function statLinks(c, order, href) {
  const keys = [...order.filter((k) => c[k]), ...Object.keys(c).filter((k) => !order.includes(k))];
  if (!keys.length) return html`<span class="muted">none</span>`;
  return keys.map((k) => html`<a href="${href(k)}">${badge(k)} ${num(c[k])}</a>`);
}

function render(root) {
  const jobs = [...model.jobs.values()];
  const allocs = [...model.allocs.values()];
  const nodes = [...model.nodes.values()];
  const jobStatus = counts(jobs, (j) => model.statusOf(j));
  const allocStatus = counts(allocs, clientStatus);
  const nodeStatus = counts(nodes, (n) => (n.status !== 'ready' ? 'down' : n.drain ? 'draining' : !n.eligible ? 'ineligible' : 'ready'));
  const leader = model.servers.find((s) => s.leader);
  const since = Date.now() - HOUR;
  const failedAllocs = sortBy(allocs.filter((a) => ['failed', 'lost'].includes(clientStatus(a)) && a.mt > since), (a) => a.mt, true).slice(0, 10);
  const evals = [...model.evals.values()];
  const badEvals = sortBy(evals.filter((e) => e.status === 'blocked' || e.status === 'failed'), (e) => e.modify_time, true).slice(0, 10);
  const deps = [...model.deployments.values()];
  const active = deps.filter((d) => d.status === 'running' || d.status === 'paused');
  const failedDeps = sortBy(deps.filter((d) => d.status === 'failed' && Date.parse(d.modify_time) > since), (d) => d.modify_time, true).slice(0, 10);
  root.innerHTML = html`
    <div class="head"><div><h1>Cluster overview</h1><p class="muted">Everything on this page follows the event stream.</p></div></div>
    <div class="cards">
      <section class="card" aria-labelledby="ov-jobs"><h2 id="ov-jobs"><a href="#/jobs">Jobs</a></h2>
        <div class="big">${num(jobs.length)}</div>
        <div class="stat">${statLinks(jobStatus, ['running', 'pending', 'dead'], (s) => `#/jobs?status=${s}`)}</div></section>
      <section class="card" aria-labelledby="ov-allocs"><h2 id="ov-allocs">Allocations</h2>
        <div class="big">${num(allocs.length)}</div>
        <div class="stat">${statLinks(allocStatus, ['running', 'pending', 'failed', 'lost', 'unknown', 'complete'], () => '#/topology')}</div></section>
      <section class="card" aria-labelledby="ov-nodes"><h2 id="ov-nodes"><a href="#/nodes">Nodes</a></h2>
        <div class="big">${num(nodes.length)}</div>
        <div class="stat">${statLinks(nodeStatus, ['ready', 'draining', 'ineligible', 'down'], (s) => `#/nodes?status=${s}`)}</div></section>
      <section class="card" aria-labelledby="ov-servers"><h2 id="ov-servers"><a href="#/servers">Servers</a></h2>
        <div class="big">${num(model.servers.length)}</div>
        <div>${leader ? html`leader <strong>${leader.name}</strong>` : html`<span class="badge s-failed">no leader</span>`}</div></section>
    </div>
    <div class="grid2">
      <section><h2>Deployments in progress</h2>
        ${active.length ? html`<div class="table-wrap"><table><thead><tr><th>Job</th><th>Version</th><th>Status</th><th>Healthy</th><th>Started</th></tr></thead><tbody>
          ${active.map((d) => {
            const g = Object.values(d.groups || {});
            const healthy = g.reduce((s, x) => s + x.healthy_allocs, 0);
            const want = g.reduce((s, x) => s + x.desired_total, 0);
            return html`<tr><td><a href="${jobHref(d.namespace, d.job_id)}?tab=deployments">${d.job_id}</a></td><td>${d.job_version}</td>
              <td>${badge(d.status)}</td><td>${healthy}/${want}</td><td>${when(d.create_time)}</td></tr>`;
          })}</tbody></table></div>` : html`<p class="muted">No deployment is running.</p>`}
      </section>
      <section><h2>Recent failures <span class="muted">(last hour)</span></h2>
        ${failedAllocs.length + badEvals.length + failedDeps.length === 0 ? html`<p class="muted">Nothing failed in the last hour.</p>` : html`
        <ul class="events">
          ${failedAllocs.map((a) => html`<li>${badge(clientStatus(a))} allocation ${idLink(allocHref(a.id), a.id)} <a href="${jobHref(a.ns, a.job)}">${a.name}</a> ${when(a.mt)}</li>`)}
          ${failedDeps.map((d) => html`<li>${badge('failed')} deployment ${short(d.id)} of <a href="${jobHref(d.namespace, d.job_id)}?tab=deployments">${d.job_id}</a> v${d.job_version}: ${d.status_description} ${when(d.modify_time)}</li>`)}
          ${badEvals.map((e) => html`<li>${badge(e.status)} evaluation ${idLink(evalHref(e.id), e.id)} of <a href="${jobHref(e.namespace, e.job_id)}">${e.job_id}</a>: ${explainFailures(e).join('; ') || e.status_description || ''} ${when(e.modify_time)}</li>`)}
        </ul>`}
      </section>
    </div>`;
}

export default {
  title: () => 'Overview',
  kinds: () => ['jobs', 'allocs', 'evals', 'nodes', 'deployments', 'servers'],
  mount(root) {
    const draw = coalesce(() => render(root), 250);
    render(root);
    return { update: () => draw() };
  },
};
