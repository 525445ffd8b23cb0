// Run a job: paste a job file (HCL, JSON or YAML, as nctl reads them),
// see what planning it would do, then submit it.

import { call, get, can } from '../api.js';
import { html, raw, jobHref, esc } from '../util.js';
import { toast } from '../nav.js';
import { explainFailures } from './evals.js';
import { spec } from './job.js';

const EXAMPLE = `job "example" {
  group "web" {
    count = 2
    task "server" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "while true; do echo hello from $NOMAD_ALLOC_NAME; sleep 5; done"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
`;

function planHTML(job, plan) {
  const fails = explainFailures({ failed_tg_allocs: plan.failed_tg_allocs || {} });
  return html`<h2>Plan: job ${job.id} would be ${plan.result}</h2>
    ${plan.warnings?.length ? html`<div class="panel"><strong>Warnings</strong><ul>${plan.warnings.map((w) => html`<li>${w}</li>`)}</ul></div>` : ''}
    ${plan.diff?.length ? html`<h3>Changes to the job</h3><pre class="code">${plan.diff.map((d) => html`<span class="diff-${d.old === undefined ? 'add' : d.new === undefined ? 'del' : 'mod'}">${d.old === undefined ? '+' : d.new === undefined ? '-' : '~'} ${d.path}: ${d.old !== undefined ? JSON.stringify(d.old) : ''}${d.old !== undefined && d.new !== undefined ? ' => ' : ''}${d.new !== undefined ? JSON.stringify(d.new) : ''}</span>\n`)}</pre>` : html`<p class="muted">The specification does not change.</p>`}
    <h3>What the scheduler would do</h3>
    <div class="table-wrap"><table><thead><tr><th>Group</th><th>Place</th><th>Stop</th><th>In place</th><th>Destructive</th><th>Canary</th><th>Migrate</th><th>Ignore</th><th>Failed</th></tr></thead><tbody>
      ${Object.entries(plan.changes || {}).map(([g, c]) => html`<tr><td>${g}</td><td>${c.place || 0}</td><td>${c.stop || 0}</td><td>${c.in_place || 0}</td><td>${c.destructive || 0}</td><td>${c.canary || 0}</td><td>${c.migrate || 0}</td><td>${c.ignore || 0}</td><td>${c.failed ? html`<span class="error">${c.failed}</span>` : 0}</td></tr>`)}
    </tbody></table></div>
    ${fails.length ? html`<div class="panel"><strong class="error">Cannot place everything:</strong><ul>${fails.map((x) => html`<li>${x}</li>`)}</ul></div>` : ''}
    ${plan.placements?.length ? html`<h3>Placements</h3><ul>${plan.placements.slice(0, 50).map((p) => html`<li>${p.name} on ${p.node_name || p.node_id}</li>`)}</ul>` : ''}`;
}

export default {
  title: () => 'Run a job',
  async mount(root, route) {
    let source = EXAMPLE;
    let filename = 'job.hcl';
    if (route.query.job) {
      const [ns, ...rest] = route.query.job.split('/');
      const id = rest.join('/');
      const job = await get(`/v1/job/${encodeURIComponent(id)}?namespace=${encodeURIComponent(ns)}`);
      source = JSON.stringify(spec(job), null, 2);
      filename = 'job.json';
      // The file the current version was submitted from, when one was
      // kept (nctl apply, nomad job run, this page): edit that instead.
      // A file read with variables, or one this page cannot read (file
      // functions: the server reads no files), stays the JSON above.
      const sub = await get(`/v1/job/${encodeURIComponent(id)}/submission?namespace=${encodeURIComponent(ns)}&version=${job.version || 0}`).catch(() => null);
      if (sub && sub.source && !sub.variables && !sub.variable_flags && !sub.variables_missing) {
        const name = { json: 'job.json', yaml: 'job.yaml' }[sub.format] || 'job.hcl';
        const parsed = await call('POST', '/v1/jobs/parse', { source: sub.source, filename: name }).catch(() => null);
        if (parsed) {
          source = sub.source;
          filename = name;
        }
      }
    }
    const auth = can();
    root.innerHTML = html`<div class="crumbs"><a href="#/jobs">Jobs</a></div>
      <div class="head"><div><h1>${route.query.job ? `Edit ${route.query.job}` : 'Run a job'}</h1>
        <p class="muted">Paste a job file — HCL, JSON or YAML, as <code>nctl apply</code> reads them. Plan shows what would change; nothing is stored until you submit.</p></div></div>
      <form id="run-form">
        <label for="run-src">Job file</label>
        <textarea id="run-src" name="src" spellcheck="false" aria-describedby="run-err">${source}</textarea>
        <div class="filters"><div><label for="run-fmt">Format</label><select id="run-fmt" name="fmt">
          ${[['job.hcl', 'HCL'], ['job.json', 'JSON'], ['job.yaml', 'YAML']].map(([v, l]) => html`<option value="${v}" ${v === filename ? raw('selected') : ''}>${l}</option>`)}</select></div>
          <div class="actions"><button type="submit" class="primary" id="plan-btn">Plan</button>
          <button type="button" id="submit-btn" disabled title="${auth.ok ? 'plan the job first' : esc(auth.reason)}">Submit</button>
          <span class="why" id="submit-why">${auth.ok ? 'plan the job first' : auth.reason}</span></div></div>
        <p id="run-err" class="error" role="alert"></p>
      </form>
      <div id="plan-out" aria-live="polite"></div>`;
    const form = root.querySelector('#run-form');
    const out = root.querySelector('#plan-out');
    const err = root.querySelector('#run-err');
    const submit = root.querySelector('#submit-btn');
    const why = root.querySelector('#submit-why');
    let planned = null;
    let plannedFrom = null;
    const reset = () => {
      planned = null;
      plannedFrom = null;
      submit.disabled = true;
      why.textContent = can().ok ? 'plan the job first' : can().reason;
    };
    form.addEventListener('input', reset);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      err.textContent = '';
      out.innerHTML = '';
      try {
        const { data: job } = await call('POST', '/v1/jobs/parse', { source: form.src.value, filename: form.fmt.value });
        const { data: plan } = await call('POST', `/v1/job/${encodeURIComponent(job.id)}/plan`, { job });
        out.innerHTML = planHTML(job, plan);
        planned = job;
        plannedFrom = { source: form.src.value, format: { 'job.json': 'json', 'job.yaml': 'yaml' }[form.fmt.value] || 'hcl2' };
        const a = can();
        submit.disabled = !a.ok;
        why.textContent = a.ok ? '' : a.reason;
      } catch (x) {
        err.textContent = x.message;
        reset();
      }
    });
    submit.addEventListener('click', async () => {
      if (!planned) return;
      try {
        const { data } = await call('PUT', '/v1/jobs', { job: planned, submission: plannedFrom });
        toast(`Job ${data.job_id} ${data.result} (version ${data.job_version}).`);
        location.hash = jobHref(data.namespace, data.job_id);
      } catch (x) {
        err.textContent = x.message;
      }
    });
  },
};
