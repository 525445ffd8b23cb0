// Evaluations: the list, one evaluation, and placement failures in words.

import { model } from '../model.js';
import { follow } from '../follow.js';
import { html, badge, when, idLink, evalHref, jobHref, nodeHref, sortBy, page, pagerHTML, coalesce, short, raw } from '../util.js';
import { setQuery } from '../nav.js';

// explainFailures says in words why the scheduler could not place each
// group of an evaluation: how many nodes it had, which filters removed
// them, which resource ran out.
export function explainFailures(e) {
  const out = [];
  for (const [group, m] of Object.entries(e.failed_tg_allocs || {})) {
    const parts = [];
    const n = m.coalesced_failures ? m.coalesced_failures + 1 : 1;
    parts.push(`group ${group}: ${n} allocation${n > 1 ? 's' : ''} cannot be placed`);
    if (m.nodes_in_pool === 0) parts.push('no ready node in the job\'s node pool and datacenters');
    else parts.push(`${m.nodes_evaluated || 0} of ${m.nodes_in_pool ?? '?'} nodes evaluated`);
    for (const [why, c] of Object.entries(m.filtered_by || {})) parts.push(`${c} filtered by ${why}`);
    for (const [dim, c] of Object.entries(m.exhausted_on || {})) parts.push(`${c} out of ${dim}`);
    out.push(parts.join(', '));
  }
  return out;
}

function list(root, route) {
  const q = { status: '', q: '', p: '1', ...route.query };
  root.innerHTML = html`<div class="head"><div><h1>Evaluations</h1><p class="muted">Requests to reconcile a job with the cluster, newest first.</p></div></div>
    <form class="filters" role="search" aria-label="filter evaluations">
      <div class="grow"><label for="e-q">Job</label><input id="e-q" type="search" name="q" value="${q.q}" placeholder="job ID  ( / )" autocomplete="off"></div>
      <div><label for="e-s">Status</label><select id="e-s" name="status">${['', 'pending', 'blocked', 'complete', 'failed'].map((s) => html`<option value="${s}" ${s === q.status ? raw('selected') : ''}>${s || 'any'}</option>`)}</select></div>
    </form><div id="evals-table"></div>`;
  const table = root.querySelector('#evals-table');
  const draw = () => {
    let rows = [...model.evals.values()].filter((e) => (!q.status || e.status === q.status) && (!q.q || e.job_id.includes(q.q)));
    rows = sortBy(rows, (e) => e.create_time, true);
    const pg = page(rows, Number(q.p));
    table.innerHTML = html`<div class="table-wrap"><table class="nav" aria-label="evaluations"><thead><tr><th>ID</th><th>Job</th><th>Status</th><th>Triggered by</th><th>Node</th><th>Placed</th><th class="wrap">Placement failures</th><th>Created</th></tr></thead><tbody>
      ${pg.rows.map((e) => html`<tr><td>${idLink(evalHref(e.id), e.id)}</td><td><a href="${jobHref(e.namespace, e.job_id)}">${e.job_id}</a></td><td>${badge(e.status)}</td>
        <td>${e.triggered_by}</td><td>${e.node_id ? idLink(nodeHref(e.node_id), e.node_id) : '–'}</td><td>${e.placed_allocs || 0}</td>
        <td class="wrap">${explainFailures(e).map((x) => html`<div>${x}</div>`)}</td><td>${when(e.create_time)}</td></tr>`)}
      </tbody></table></div>${rows.length ? '' : html`<p class="muted">No evaluation matches.</p>`}${pagerHTML(pg)}`;
  };
  root.querySelector('form').addEventListener('input', (e) => {
    q[e.target.name] = e.target.value;
    q.p = '1';
    setQuery({ [e.target.name]: e.target.value, p: '' });
    draw();
  });
  root.querySelector('form').addEventListener('submit', (e) => e.preventDefault());
  table.addEventListener('click', (e) => {
    const p = e.target.closest('[data-page]');
    if (p) {
      q.p = p.dataset.page;
      setQuery({ p: q.p });
      draw();
    }
  });
  draw();
  const later = coalesce(draw, 250);
  return { update: (c) => c.has('evals') && later() };
}

function one(root, route) {
  const id = route.path[1];
  root.innerHTML = html`<div class="crumbs"><a href="#/evals">Evaluations</a></div><div id="eval-body"></div>`;
  const body = root.querySelector('#eval-body');
  let full = id;
  const f = follow({
    parts: { e: `/v1/evaluation/${encodeURIComponent(id)}` },
    match: (ev) => (ev.topic === 'Evaluation' && ev.key.endsWith(`/${full}`) ? ['e'] : []),
    render: ({ e }) => {
      if (!e) {
        body.innerHTML = html`<p class="error">No evaluation ${id}.</p>`;
        return;
      }
      full = e.id;
      const fails = explainFailures(e);
      body.innerHTML = html`<div class="head"><div><h1>Evaluation <span class="id" title="${e.id}">${short(e.id)}</span> ${badge(e.status)}</h1></div></div>
        <div class="panel"><dl class="props"><dt>Job</dt><dd><a href="${jobHref(e.namespace, e.job_id)}">${e.job_id}</a> (${e.namespace})</dd>
          <dt>Triggered by</dt><dd>${e.triggered_by}</dd><dt>Status</dt><dd>${e.status}${e.status_description ? ` — ${e.status_description}` : ''}</dd>
          ${e.node_id ? html`<dt>Node</dt><dd>${idLink(nodeHref(e.node_id), e.node_id)}</dd>` : ''}
          <dt>Placed</dt><dd>${e.placed_allocs || 0}</dd><dt>Stopped</dt><dd>${e.stopped_allocs || 0}</dd>
          ${e.deployment_id ? html`<dt>Deployment</dt><dd><span class="id">${short(e.deployment_id)}</span></dd>` : ''}
          ${e.wait_until && !e.wait_until.startsWith('0001') ? html`<dt>Waits until</dt><dd>${when(e.wait_until)}</dd>` : ''}
          <dt>Created</dt><dd>${when(e.create_time)}</dd><dt>Modified</dt><dd>${when(e.modify_time)}</dd></dl></div>
        <h2>Placement failures</h2>${fails.length ? html`<ul>${fails.map((x) => html`<li>${x}</li>`)}</ul>` : html`<p class="muted">None: every placement found a node.</p>`}`;
    },
  });
  return { unmount: () => f.stop() };
}

export default {
  title: (r) => (r.path[0] === 'eval' ? `Evaluation ${short(r.path[1])}` : 'Evaluations'),
  kinds: (r) => (r.path[0] === 'eval' ? [] : ['evals']),
  mount: (root, route) => (route.path[0] === 'eval' ? one(root, route) : list(root, route)),
};
