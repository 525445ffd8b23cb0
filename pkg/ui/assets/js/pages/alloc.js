// An allocation: its tasks' states and events, restarts, resources, the
// live log of a task (stdout or stderr, followed), and the files of its
// directory.

import { call, get, stream, can, session } from '../api.js';
import { follow } from '../follow.js';
import { html, raw, badge, when, idLink, nodeHref, jobHref, evalHref, short, mhz, mib, bytes, esc } from '../util.js';
import { toast, setQuery } from '../nav.js';
import { allocStatus, action } from './job.js';

// MAX_LOG is how much of a log the page keeps (the newest part).
const MAX_LOG = 256 * 1024;

// words splits a command line as a shell would its simple words: by
// spaces, '…' and "…" quoting (a backslash escapes in "…" and outside).
export function words(line) {
  const out = [];
  let cur = null;
  let quote = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote === "'") {
      if (c === "'") quote = '';
      else cur += c;
    } else if (c === '\\' && i + 1 < line.length) {
      cur = (cur ?? '') + line[++i];
    } else if (quote === '"') {
      if (c === '"') quote = '';
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      cur = cur ?? '';
    } else if (/\s/.test(c)) {
      if (cur !== null) out.push(cur);
      cur = null;
    } else {
      cur = (cur ?? '') + c;
    }
  }
  if (cur !== null) out.push(cur);
  return out;
}

function tasksHTML(a) {
  const tasks = Object.entries(a.status?.tasks || {}).sort(([x], [y]) => x.localeCompare(y));
  if (!tasks.length) return html`<p class="muted">The node has not reported the tasks yet.</p>`;
  return tasks.map(([name, t]) => html`<section class="panel" aria-label="task ${name}">
    <h3>Task ${name} ${badge(t.failed ? 'failed' : t.state)}</h3>
    <dl class="props"><dt>State</dt><dd>${t.state}${t.exit_code !== undefined && t.exit_code !== null ? ` (exit code ${t.exit_code})` : ''}</dd>
      <dt>Restarts</dt><dd>${t.restarts || 0}</dd>${t.pid ? html`<dt>PID</dt><dd>${t.pid}</dd>` : ''}
      ${t.started_at ? html`<dt>Started</dt><dd>${when(t.started_at)}</dd>` : ''}${t.finished_at && !t.finished_at.startsWith('0001') ? html`<dt>Finished</dt><dd>${when(t.finished_at)}</dd>` : ''}</dl>
    <h4>Events</h4><ul class="events">${(t.events || []).slice().reverse().map((e) => html`<li>${when(e.time)} <strong>${e.type}</strong> ${e.message || ''}</li>`)}</ul>
  </section>`);
}

export default {
  title: (r) => `Allocation ${short(r.path[1])}`,
  mount(root, route) {
    const id = route.path[1];
    const q = { task: '', type: 'stdout', path: '/', ...route.query };
    root.innerHTML = html`<div class="crumbs"><a href="#/jobs">Jobs</a></div><div id="alloc-body"><p class="muted">Loading…</p></div>
      <section aria-labelledby="logs-h"><h2 id="logs-h">Logs</h2>
        <form class="filters" id="log-form"><div><label for="log-task">Task</label><select id="log-task" name="task"></select></div>
          <div><label for="log-type">Stream</label><select id="log-type" name="type"><option value="stdout">stdout</option><option value="stderr" ${q.type === 'stderr' ? raw('selected') : ''}>stderr</option></select></div>
          <div><button type="button" id="log-pause" aria-pressed="false">Pause</button></div>
          <span class="why" id="log-state" role="status"></span></form>
        <pre class="log" id="log" tabindex="0" aria-label="log output"></pre></section>
      <section aria-labelledby="exec-h"><h2 id="exec-h">Exec</h2>
        <form class="filters" id="exec-form"><div><label for="exec-task">Task</label><select id="exec-task" name="task"></select></div>
          <div><label for="exec-cmd">Command</label><input id="exec-cmd" name="cmd" value="/bin/sh" spellcheck="false" autocomplete="off"></div>
          <div class="actions"><button type="submit" id="exec-run">Run</button><button type="button" id="exec-end" disabled>End</button></div>
          <span class="why" id="exec-state" role="status"></span></form>
        <pre class="log" id="exec-out" tabindex="0" aria-label="command output"></pre>
        <form id="exec-in-form"><label for="exec-in">Input (a line at a time)</label><input id="exec-in" autocomplete="off" spellcheck="false" disabled></form></section>
      <section aria-labelledby="files-h"><h2 id="files-h">Files</h2><div id="files"></div></section>`;
    const body = root.querySelector('#alloc-body');
    const logEl = root.querySelector('#log');
    const logState = root.querySelector('#log-state');
    const taskSel = root.querySelector('#log-task');
    let full = id;
    let logAbort = null;
    let paused = false;
    let logFailed = false;
    let alloc = null;

    const startLog = async () => {
      if (logAbort) logAbort.abort();
      logEl.textContent = '';
      if (!alloc || !q.task) return;
      const ac = new AbortController();
      logAbort = ac;
      logFailed = false;
      logState.textContent = 'following…';
      let text = '';
      let pending = '';
      let timer = null;
      const paint = () => {
        timer = null;
        if (paused) return;
        const atBottom = logEl.scrollTop + logEl.clientHeight >= logEl.scrollHeight - 20;
        text = (text + pending).slice(-MAX_LOG);
        pending = '';
        logEl.textContent = text;
        if (atBottom) logEl.scrollTop = logEl.scrollHeight;
      };
      try {
        await stream(`/v1/client/fs/logs/${alloc.id}?task=${encodeURIComponent(q.task)}&type=${q.type}&follow=true&tail_bytes=65536`, (chunk) => {
          pending += chunk;
          if (!timer) timer = setTimeout(paint, 50);
        }, ac.signal);
        if (!ac.signal.aborted) logState.textContent = 'the log ended';
      } catch (e) {
        if (!ac.signal.aborted) {
          logFailed = true;
          logState.textContent = `cannot follow the log: ${e.message}`;
        }
      }
    };

    // Exec: a command in a running task, over the API's websocket in
    // Nomad's exec protocol, line by line (no terminal: tty=false).
    const execSel = root.querySelector('#exec-task');
    const execOut = root.querySelector('#exec-out');
    const execState = root.querySelector('#exec-state');
    const execIn = root.querySelector('#exec-in');
    const execEnd = root.querySelector('#exec-end');
    let ws = null;
    const enc = new TextEncoder();
    const b64 = (bytes) => btoa(Array.from(bytes, (c) => String.fromCharCode(c)).join(''));
    const unb64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
    let beat = null;
    const endExec = () => {
      if (ws) ws.close();
      ws = null;
      clearInterval(beat);
      execIn.disabled = true;
      execEnd.disabled = true;
    };
    root.querySelector('#exec-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const auth = can();
      if (!auth.ok) {
        execState.textContent = auth.reason;
        return;
      }
      const argv = words(root.querySelector('#exec-cmd').value);
      if (!alloc || !execSel.value || !argv.length) {
        execState.textContent = 'choose a task and a command';
        return;
      }
      endExec();
      execOut.textContent = '';
      const dec = { stdout: new TextDecoder(), stderr: new TextDecoder() };
      const protocols = ['nomadic.exec'];
      // A browser's websocket carries no headers of its choosing: the
      // token goes as a subprotocol, which the server takes off.
      if (session.token) protocols.push(`nomadic.token.${b64(enc.encode(session.token)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')}`);
      const u = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/client/allocation/${alloc.id}/exec?task=${encodeURIComponent(execSel.value)}&tty=false&command=${encodeURIComponent(JSON.stringify(argv))}`;
      const sock = new WebSocket(u, protocols);
      ws = sock;
      let opened = false;
      execState.textContent = 'connecting…';
      sock.onopen = () => {
        opened = true;
        execState.textContent = `running ${argv.join(' ')} in ${execSel.value}`;
        execIn.disabled = false;
        execEnd.disabled = false;
        execIn.focus();
        // A heartbeat, so that an idle session outlives proxies' timeouts.
        beat = setInterval(() => sock.readyState === WebSocket.OPEN && sock.send('{}'), 30000);
      };
      sock.onmessage = (m) => {
        let f;
        try {
          f = JSON.parse(m.data);
        } catch {
          return;
        }
        for (const name of ['stdout', 'stderr']) {
          if (f[name]?.data) {
            execOut.textContent = (execOut.textContent + dec[name].decode(unb64(f[name].data), { stream: true })).slice(-MAX_LOG);
            execOut.scrollTop = execOut.scrollHeight;
          }
        }
        if (f.exited) {
          execState.textContent = `exited with code ${f.result?.exit_code ?? 0}`;
          if (ws === sock) endExec();
        }
      };
      sock.onclose = (ev) => {
        if (ws !== sock) return;
        if (!opened) execState.textContent = `could not start the command${ev.reason ? `: ${ev.reason}` : ' (the token may not allow exec, or the task is not running)'}`;
        else if (!/exited/.test(execState.textContent)) execState.textContent = 'the session ended';
        endExec();
      };
    });
    root.querySelector('#exec-in-form').addEventListener('submit', (e) => {
      e.preventDefault();
      if (!ws || ws.readyState !== WebSocket.OPEN) return;
      const line = `${execIn.value}\n`;
      execOut.textContent += line;
      ws.send(JSON.stringify({ stdin: { data: b64(enc.encode(line)) } }));
      execIn.value = '';
    });
    execEnd.addEventListener('click', () => {
      if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ stdin: { close: true } }));
      execState.textContent = 'input closed';
      execIn.disabled = true;
    });

    const files = root.querySelector('#files');
    const listFiles = async () => {
      try {
        const list = await get(`/v1/client/fs/ls/${full}?path=${encodeURIComponent(q.path)}`);
        const up = q.path !== '/' ? q.path.replace(/\/[^/]+\/?$/, '') || '/' : '';
        files.innerHTML = html`<p class="mono">${q.path}</p><div class="table-wrap"><table class="nav" aria-label="files"><thead><tr><th>Name</th><th>Size</th><th>Mode</th><th>Modified</th></tr></thead><tbody>
          ${up ? html`<tr><td><a href="#" data-path="${up}">..</a></td><td></td><td></td><td></td></tr>` : ''}
          ${list.map((fi) => {
            const p = `${q.path.replace(/\/$/, '')}/${fi.name}`;
            const log = /^alloc\/logs$/.test(q.path.replace(/^\/|\/$/g, '')) && fi.name.match(/^(.+)\.(stdout|stderr)\.\d+$/);
            return html`<tr><td>${fi.is_dir ? html`<a href="#" data-path="${p}">${fi.name}/</a>` : log ? html`<a href="#" data-log="${log[1]}" data-stream="${log[2]}">${fi.name}</a>` : fi.name}</td>
              <td>${fi.is_dir ? '–' : bytes(fi.size)}</td><td class="mono">${fi.mode}</td><td>${when(fi.mod_time)}</td></tr>`;
          })}</tbody></table></div>`;
      } catch (e) {
        files.innerHTML = html`<p class="muted">Cannot list the directory: ${e.message}</p>`;
      }
    };

    const render = ({ a }) => {
      if (!a) {
        body.innerHTML = html`<p class="error">No allocation ${id}.</p>`;
        return;
      }
      const first = !alloc;
      alloc = a;
      full = a.id;
      const status = allocStatus(a);
      const h = a.manual_health || a.status?.health;
      const stopped = a.desired_status === 'stop' || ['complete', 'failed', 'lost'].includes(status);
      body.innerHTML = html`<div class="head"><div><h1>Allocation <span class="id" title="${a.id}">${short(a.id)}</span> ${badge(status)}</h1>
          <p class="muted">${a.name} of <a href="${jobHref(a.namespace, a.job_id)}">${a.job_id}</a> version ${a.job_version ?? 0} on node ${idLink(nodeHref(a.node_id), a.node_id)}</p></div>
          <div class="actions">${action('Restart', 'restart', stopped ? 'the allocation is not running' : '')}${action('Stop', 'stop', stopped ? 'the allocation is stopped already' : '', 'danger')}</div></div>
        <div class="grid2"><div class="panel"><dl class="props">
          <dt>Desired</dt><dd>${a.desired_status}${a.desired_description ? ` — ${a.desired_description}` : ''}</dd>
          <dt>Client status</dt><dd>${status}${a.status?.description ? ` — ${a.status.description}` : ''}</dd>
          <dt>Resources</dt><dd>${mhz(a.resources?.cpu || 0)} cpu, ${mib(a.resources?.memory || 0)} memory${a.resources?.disk ? `, ${mib(a.resources.disk)} disk` : ''}</dd>
          ${a.ports?.length ? html`<dt>Ports</dt><dd>${a.ports.map((p) => `${p.label} ${p.value}${p.to ? `→${p.to}` : ''}`).join(', ')}</dd>` : ''}
          ${a.status?.network_address ? html`<dt>Address</dt><dd>${a.status.network_address}</dd>` : ''}
          ${a.deployment_id ? html`<dt>Deployment</dt><dd><span class="id" title="${a.deployment_id}">${short(a.deployment_id)}</span>${a.canary ? html` ${badge('canary')}` : ''}</dd>` : ''}
          ${h ? html`<dt>Health</dt><dd>${badge(h.healthy ? 'healthy' : 'unhealthy')} ${h.description || ''}</dd>` : ''}
          <dt>Evaluation</dt><dd>${idLink(evalHref(a.eval_id), a.eval_id)}</dd>
          ${a.previous_allocation ? html`<dt>Replaces</dt><dd>${idLink(`#/alloc/${a.previous_allocation}`, a.previous_allocation)}</dd>` : ''}
          ${a.next_allocation ? html`<dt>Replaced by</dt><dd>${idLink(`#/alloc/${a.next_allocation}`, a.next_allocation)}</dd>` : ''}
          ${a.reschedule_tracker?.length ? html`<dt>Reschedules</dt><dd>${a.reschedule_tracker.length}</dd>` : ''}
          <dt>Created</dt><dd>${when(a.create_time)}</dd><dt>Modified</dt><dd>${when(a.modify_time)}</dd></dl></div></div>
        <h2>Tasks</h2>${tasksHTML(a)}`;
      const tasks = Object.keys(a.status?.tasks || {}).sort();
      const known = [...taskSel.options].map((o) => o.value).join(',');
      if (known !== tasks.join(',')) {
        taskSel.innerHTML = html`${tasks.map((t) => html`<option value="${t}">${t}</option>`)}`;
      }
      if (!q.task && tasks.length) q.task = tasks[0];
      taskSel.value = q.task;
      const running = tasks.filter((t) => a.status.tasks[t].state === 'running');
      if ([...execSel.options].map((o) => o.value).join(',') !== running.join(',')) {
        const keep = execSel.value;
        execSel.innerHTML = html`${running.map((t) => html`<option value="${t}">${t}</option>`)}`;
        if (running.includes(keep)) execSel.value = keep;
      }
      root.querySelector('#exec-run').disabled = !running.length || stopped;
      root.querySelector('#exec-run').title = running.length && !stopped ? '' : 'no task is running';
      if (first || logFailed) startLog();
      if (first) listFiles();
    };
    const f = follow({
      parts: { a: `/v1/allocation/${encodeURIComponent(id)}` },
      match: (ev) => (ev.topic === 'Allocation' && ev.key.endsWith(`/${full}`) ? ['a'] : []),
      render,
      onError: (e) => toast(e.message, true),
    });
    root.querySelector('#log-form').addEventListener('change', (e) => {
      q[e.target.name] = e.target.value;
      setQuery({ [e.target.name]: e.target.value });
      startLog();
    });
    root.querySelector('#log-pause').addEventListener('click', (e) => {
      paused = !paused;
      e.target.setAttribute('aria-pressed', String(paused));
      e.target.textContent = paused ? 'Resume' : 'Pause';
    });
    root.addEventListener('click', async (e) => {
      const d = e.target.closest('a[data-path]');
      if (d) {
        e.preventDefault();
        q.path = d.dataset.path;
        setQuery({ path: q.path });
        listFiles();
        return;
      }
      const l = e.target.closest('a[data-log]');
      if (l) {
        e.preventDefault();
        q.task = l.dataset.log;
        q.type = l.dataset.stream;
        taskSel.value = q.task;
        root.querySelector('#log-type').value = q.type;
        startLog();
        logEl.scrollIntoView({ block: 'nearest' });
        return;
      }
      const b = e.target.closest('button[data-act]');
      if (!b || b.disabled) return;
      try {
        if (b.dataset.act === 'stop') {
          if (!confirm(`Stop allocation ${short(full)}? The scheduler places a replacement if the job wants one.`)) return;
          await call('POST', `/v1/allocation/${full}/stop`);
        } else {
          await call('POST', `/v1/allocation/${full}/restart`, {});
        }
        toast(`Allocation ${short(full)}: ${b.dataset.act} requested.`);
      } catch (x) {
        toast(x.message, true);
      }
    });
    return {
      unmount() {
        f.stop();
        endExec();
        if (logAbort) logAbort.abort();
      },
    };
  },
};
