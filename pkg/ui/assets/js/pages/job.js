// A job: its groups with desired/placed/running/failed counts, its
// allocations, versions and the diff between two, deployments with their
// buttons, evaluations with placement failures explained, and stop/start.

import { call, can } from '../api.js';
import { follow } from '../follow.js';
import { clientStatus } from '../model.js';
import { html, raw, badge, when, idLink, allocHref, nodeHref, evalHref, short, num, jobHref, esc, mhz, mib } from '../util.js';
import { toast, setQuery } from '../nav.js';
import { explainFailures } from './evals.js';
import { diffValues } from './diff.js';

const TABS = [['', 'Overview'], ['allocations', 'Allocations'], ['deployments', 'Deployments'], ['versions', 'Versions'], ['evaluations', 'Evaluations'], ['definition', 'Definition']];

// toRow cuts an allocation as the API returns it to what clientStatus reads.
export const asRow = (a) => ({ st: a.status ? a.status.client_status : '', lost: a.node_lost, disc: !!(a.disconnect_time && !a.disconnect_time.startsWith('0001')), ds: a.desired_status });
export const allocStatus = (a) => clientStatus(asRow(a));

// disabledAttr renders a button's disabled state and the reason beside it.
export function action(label, act, reason, cls = '') {
  const auth = can();
  const why = !auth.ok ? auth.reason : reason;
  return html`<span class="act"><button type="button" class="${cls}" data-act="${act}" ${why ? raw(`disabled aria-describedby="why-${esc(act)}"`) : ''} title="${why || label}">${label}</button>${why ? html` <span class="why" id="why-${act}">${why}</span>` : ''}</span>`;
}

export function allocTable(allocs, { showJob = false, showNode = true, nodes = {} } = {}) {
  if (!allocs.length) return html`<p class="muted">No allocation.</p>`;
  return html`<div class="table-wrap"><table class="nav" aria-label="allocations"><thead><tr><th>ID</th><th>Name</th>${showJob ? html`<th>Job</th>` : ''}
    <th>Status</th><th>Desired</th><th>Version</th>${showNode ? html`<th>Node</th>` : ''}<th>CPU</th><th>Memory</th><th>Health</th><th>Modified</th></tr></thead><tbody>
    ${allocs.map((a) => {
      const h = a.manual_health || a.status?.health;
      return html`<tr data-alloc="${a.id}"><td>${idLink(allocHref(a.id), a.id)}</td><td>${a.name}${a.canary ? html` ${badge('canary')}` : ''}</td>
      ${showJob ? html`<td><a href="${jobHref(a.namespace, a.job_id)}">${a.job_id}</a></td>` : ''}
      <td>${badge(allocStatus(a))}</td><td>${a.desired_status}</td><td>${a.job_version ?? 0}</td>
      ${showNode ? html`<td>${idLink(nodeHref(a.node_id), a.node_id)} ${nodes[a.node_id] ? html`<span class="muted">${nodes[a.node_id]}</span>` : ''}</td>` : ''}
      <td>${mhz(a.resources?.cpu || 0)}</td><td>${mib(a.resources?.memory || 0)}</td>
      <td>${h ? badge(h.healthy ? 'healthy' : 'unhealthy') : html`<span class="muted">–</span>`}</td><td>${when(a.modify_time)}</td></tr>`;
    })}</tbody></table></div>`;
}

function groupTable(job, allocs) {
  return html`<div class="table-wrap"><table aria-label="task groups"><thead><tr><th>Group</th><th>Desired</th><th>Placed</th><th>Running</th><th>Pending</th><th>Failed</th><th>Complete</th><th>Lost</th><th>Tasks</th></tr></thead><tbody>
    ${job.groups.map((g) => {
      const mine = allocs.filter((a) => a.task_group === g.name);
      const c = (s) => mine.filter((a) => allocStatus(a) === s).length;
      const placed = mine.filter((a) => a.desired_status === 'run' && !['complete', 'failed', 'lost'].includes(allocStatus(a))).length;
      return html`<tr><td><strong>${g.name}</strong></td><td>${job.stop ? 0 : g.count}</td><td>${placed}</td><td>${c('running')}</td><td>${c('pending')}</td>
        <td>${c('failed') ? html`<span class="error">${c('failed')}</span>` : 0}</td><td>${c('complete')}</td><td>${c('lost')}</td>
        <td class="wrap">${g.tasks.map((t) => `${t.name} (${t.driver})`).join(', ')}</td></tr>`;
    })}</tbody></table></div>`;
}

function deploymentButtons(d) {
  const active = d.status === 'running' || d.status === 'paused';
  const groups = Object.values(d.groups || {});
  const waiting = groups.some((g) => g.desired_canaries > 0 && !g.promoted);
  const healthy = groups.every((g) => !(g.desired_canaries > 0 && !g.promoted) || (g.placed_canaries || []).length >= g.desired_canaries);
  if (!active) return '';
  return html`<div class="actions" data-dep="${d.id}">
    ${action('Promote', 'promote', !waiting ? 'no canary waits for promotion' : !healthy ? 'the canaries are not all placed yet' : '', 'primary')}
    ${d.status === 'paused' ? action('Resume', 'resume', '') : action('Pause', 'pause', '')}
    ${action('Fail', 'fail', '', 'danger')}
  </div>`;
}

function deploymentCard(d) {
  return html`<section class="panel" aria-label="deployment ${short(d.id)}">
    <div class="head"><div><h3>Deployment <span class="id" title="${d.id}">${short(d.id)}</span> of version ${d.job_version} ${badge(d.status)}</h3>
      <p class="muted">${d.status_description || ''} · started ${when(d.create_time)}</p></div>${deploymentButtons(d)}</div>
    <div class="table-wrap"><table><thead><tr><th>Group</th><th>Desired</th><th>Canaries</th><th>Placed</th><th>Healthy</th><th>Unhealthy</th><th>Progress by</th></tr></thead><tbody>
    ${Object.entries(d.groups || {}).map(([name, g]) => html`<tr><td>${name}</td><td>${g.desired_total}</td>
      <td>${g.desired_canaries ? html`${(g.placed_canaries || []).length}/${g.desired_canaries} ${g.promoted ? badge('promoted') : badge('canary', ' awaiting promotion')}` : '–'}</td>
      <td>${g.placed_allocs}</td><td>${g.healthy_allocs}</td><td>${g.unhealthy_allocs}</td><td>${when(g.require_progress_by)}</td></tr>`)}
    </tbody></table></div></section>`;
}

function evalTable(evals) {
  if (!evals.length) return html`<p class="muted">No evaluation.</p>`;
  return html`<div class="table-wrap"><table class="nav" aria-label="evaluations"><thead><tr><th>ID</th><th>Status</th><th>Triggered by</th><th>Placed</th><th>Stopped</th><th class="wrap">Placement failures</th><th>Created</th></tr></thead><tbody>
    ${evals.map((e) => html`<tr><td>${idLink(evalHref(e.id), e.id)}</td><td>${badge(e.status)}</td><td>${e.triggered_by}</td><td>${e.placed_allocs || 0}</td><td>${e.stopped_allocs || 0}</td>
      <td class="wrap">${explainFailures(e).map((x) => html`<div>${x}</div>`)}${e.status_description ? html`<div class="muted">${e.status_description}</div>` : ''}</td><td>${when(e.create_time)}</td></tr>`)}
    </tbody></table></div>`;
}

// SERVER_FIELDS are set by the servers, never by the submitter: left out
// of diffs and of the definition to edit.
export const SERVER_FIELDS = ['status', 'version', 'stable', 'submit_time', 'create_index', 'modify_index', 'stop'];
export function spec(job) {
  const out = { ...job };
  for (const f of SERVER_FIELDS) delete out[f];
  return out;
}

function versionsTab(versions, q) {
  const list = [...(versions || [])].reverse();
  if (!list.length) return html`<p class="muted">No version kept.</p>`;
  const a = q.a !== undefined ? Number(q.a) : list[Math.min(1, list.length - 1)].version;
  const b = q.b !== undefined ? Number(q.b) : list[0].version;
  const va = list.find((v) => v.version === a);
  const vb = list.find((v) => v.version === b);
  const opts = (sel) => list.map((v) => html`<option value="${v.version}" ${v.version === sel ? raw('selected') : ''}>version ${v.version}${v.stable ? ' (stable)' : ''}</option>`);
  const changes = va && vb ? diffValues(spec(va), spec(vb)) : [];
  return html`<div class="table-wrap"><table aria-label="versions"><thead><tr><th>Version</th><th>Stable</th><th>Submitted</th><th>Groups</th></tr></thead><tbody>
    ${list.map((v) => html`<tr><td>${v.version}</td><td>${v.stable ? badge('stable') : '–'}</td><td>${when(v.submit_time)}</td><td>${v.groups.map((g) => `${g.name}×${g.count}`).join(', ')}</td></tr>`)}
    </tbody></table></div>
    <h3>Compare</h3>
    <form class="filters" id="vdiff"><div><label for="va">From</label><select id="va" name="a">${opts(a)}</select></div>
      <div><label for="vb">To</label><select id="vb" name="b">${opts(b)}</select></div></form>
    ${changes.length ? html`<pre class="code" aria-label="differences">${changes.map((c) => html`<span class="diff-${c.op}">${c.op === 'add' ? '+' : c.op === 'del' ? '-' : '~'} ${c.path}: ${c.op === 'add' ? '' : JSON.stringify(c.old)}${c.op === 'mod' ? ' => ' : ''}${c.op === 'del' ? '' : JSON.stringify(c.new)}</span>\n`)}</pre>`
      : html`<p class="muted">The two versions have the same specification.</p>`}`;
}

export default {
  title: (r) => `Job ${r.path[2]}`,
  mount(root, route) {
    const ns = route.path[1] || 'default';
    const id = route.path[2];
    const q = { ...route.query };
    const base = `/v1/job/${encodeURIComponent(id)}`;
    const nsq = `namespace=${encodeURIComponent(ns)}`;
    root.innerHTML = html`<div class="crumbs"><a href="#/jobs">Jobs</a> / ${ns}</div><div id="job-body"><p class="muted">Loading…</p></div>`;
    const body = root.querySelector('#job-body');
    let allocIDs = new Set();
    const render = (d) => {
      const job = d.job;
      if (!job) {
        body.innerHTML = html`<h1>${id}</h1><p class="error">No job ${id} in namespace ${ns}.</p>`;
        return;
      }
      const allocs = d.allocs || [];
      allocIDs = new Set(allocs.map((a) => a.id));
      const deps = d.deployments || [];
      const latest = deps[0];
      const tab = q.tab || '';
      const tabs = html`<nav class="tabs" aria-label="job sections">${TABS.map(([t, label]) => html`<a href="${jobHref(ns, id)}${t ? `?tab=${t}` : ''}" data-tab="${t}" ${t === tab ? raw('aria-current="page"') : ''}>${label}</a>`)}</nav>`;
      let content;
      if (tab === 'allocations') content = allocTable(allocs);
      else if (tab === 'deployments') content = deps.length ? deps.map(deploymentCard) : html`<p class="muted">No deployment: the job has no update block, or nothing rolled out yet.</p>`;
      else if (tab === 'versions') content = versionsTab(d.versions, q);
      else if (tab === 'evaluations') content = evalTable(d.evals || []);
      else if (tab === 'definition') content = html`<p><a class="button" href="#/run?job=${encodeURIComponent(`${ns}/${id}`)}">Edit and plan</a></p><pre class="code">${JSON.stringify(spec(job), null, 2)}</pre>`;
      else {
        const active = latest && (latest.status === 'running' || latest.status === 'paused') ? latest : null;
        content = html`<h2>Task groups</h2>${groupTable(job, allocs)}
          ${active ? html`<h2>Deployment in progress</h2>${deploymentCard(active)}` : ''}
          <h2>Allocations</h2>${allocTable(allocs.filter((a) => a.desired_status === 'run' || allocStatus(a) === 'running').slice(0, 50))}
          ${allocs.length > 50 ? html`<p><a href="${jobHref(ns, id)}?tab=allocations">All ${allocs.length} allocations</a></p>` : ''}`;
      }
      const blocked = (d.evals || []).filter((e) => e.status === 'blocked');
      body.innerHTML = html`<div class="head"><div><h1>${job.id} ${badge(job.status)}</h1>
          <p class="muted">${job.type} job · priority ${job.priority} · version ${job.version} · submitted ${when(job.submit_time)}${job.datacenters ? ` · datacenters ${job.datacenters.join(', ')}` : ''}</p></div>
        <div class="actions">${job.stop ? action('Start', 'start', '', 'primary') : action('Stop', 'stop', '', 'danger')}
          <a class="button" href="#/run?job=${encodeURIComponent(`${ns}/${id}`)}">Edit and plan</a></div></div>
        ${blocked.length ? html`<div class="panel" role="status"><strong>Placements are waiting for capacity:</strong> ${blocked.map((e) => explainFailures(e).join('; '))}</div>` : ''}
        ${tabs}<div id="job-tab">${content}</div>`;
    };
    const f = follow({
      parts: {
        job: `${base}?${nsq}`, allocs: `${base}/allocations?${nsq}`, evals: `${base}/evaluations?${nsq}`,
        deployments: `${base}/deployments?${nsq}`, versions: `${base}/versions?${nsq}`,
      },
      match(ev) {
        const p = ev.payload || {};
        switch (ev.topic) {
          case 'Job': return ev.key === `${ns}/${id}` ? ['job', 'versions'] : [];
          case 'Allocation': {
            const aid = ev.key.slice(ev.key.lastIndexOf('/') + 1);
            return allocIDs.has(aid) || (p.job_id === id && p.namespace === ns) ? ['allocs', 'job'] : [];
          }
          case 'Evaluation': return ev.key.startsWith(`${ns}/${id}/`) ? ['evals', 'job'] : [];
          case 'Deployment': return ev.key.startsWith(`${ns}/${id}/`) ? ['deployments'] : [];
          default: return [];
        }
      },
      render,
      onError: (e) => toast(e.message, true),
    });
    const act = async (what, el) => {
      const job = f.data.job;
      try {
        if (what === 'stop') {
          if (!confirm(`Stop job ${id}? Its allocations stop.`)) return;
          await call('DELETE', `${base}?${nsq}`);
          toast(`Job ${id} is stopping.`);
        } else if (what === 'start') {
          await call('PUT', '/v1/jobs', { job: { ...spec(job), stop: false } });
          toast(`Job ${id} submitted again.`);
        } else {
          const dep = el.closest('[data-dep]').dataset.dep;
          await call('POST', `/v1/deployment/${dep}/${what}`);
          toast(`Deployment ${short(dep)}: ${what} done.`);
        }
        f.refresh();
      } catch (e) {
        toast(e.message, true);
      }
    };
    root.addEventListener('click', (e) => {
      const b = e.target.closest('button[data-act]');
      if (b && !b.disabled) act(b.dataset.act, b);
      const t = e.target.closest('a[data-tab]');
      if (t) {
        e.preventDefault();
        q.tab = t.dataset.tab;
        setQuery({ tab: q.tab });
        render(f.data);
      }
    });
    root.addEventListener('change', (e) => {
      if (e.target.closest('#vdiff')) {
        q[e.target.name] = e.target.value;
        setQuery({ [e.target.name]: e.target.value });
        render(f.data);
      }
    });
    return { unmount: () => f.stop() };
  },
};
