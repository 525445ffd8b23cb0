// The model of the cluster the list pages show: compact rows of jobs,
// allocations, nodes, evaluations and deployments, read once from
// GET /v1/ui/snapshot and from then on changed by the event stream alone.
// Each kind remembers the index it was read at, and ignores events it
// already holds.

import { call } from './api.js';
import { live } from './live.js';

const TERMINAL = new Set(['complete', 'failed', 'lost']);

// clientStatus is api.Allocation.ClientStatusOf: what the node reported,
// lost when stopped because its node went down, unknown while its node is
// away within the group's lost_after, pending before any report.
export function clientStatus(a) {
  const s = a.st || 'pending';
  if (a.lost && !TERMINAL.has(s)) return 'lost';
  if (a.disc && a.ds === 'run' && !TERMINAL.has(s)) return 'unknown';
  return s;
}

// terminal is api.Allocation.Terminal: the allocation will not run again.
export function terminal(a) {
  const cs = clientStatus(a);
  return TERMINAL.has(cs) || (a.ds === 'stop' && cs === 'pending' && !a.st);
}

// jobStatus is pkg/jobs.Status: running while an allocation runs, pending
// while one starts or waits for capacity, dead once stopped or finished.
export function jobStatus(job, allocs, evals) {
  let running = 0;
  let pending = 0;
  for (const a of allocs) {
    const cs = clientStatus(a);
    if (cs === 'running') running++;
    else if (cs === 'pending' && a.ds === 'run') pending++;
  }
  const waiting = evals.some((e) => e.status === 'blocked' || e.status === 'pending');
  if (job.template && !job.stop) return 'running';
  if (running > 0) return 'running';
  if (job.stop) return 'dead';
  if (pending > 0 || allocs.length === 0 || waiting) return 'pending';
  return 'dead';
}

function isTemplate(j) {
  return !!((j.periodic && j.periodic.enabled) || j.parameterized);
}

// The rows the events' full objects are cut to, as the server cuts them
// (pkg/httpapi/ui.go).
export function jobRow(j) {
  return {
    id: j.id, ns: j.namespace || 'default', name: j.name, type: j.type, priority: j.priority, version: j.version,
    stop: !!j.stop, template: isTemplate(j), parent: j.parent_id, submit: j.submit_time,
    groups: (j.groups || []).map((g) => ({ name: g.name, count: g.count })),
  };
}

// fromRow reads an allocation's row of the snapshot, whose strings are
// positions in the table t (pkg/httpapi/ui.go, appendAlloc).
function fromRow(r, t) {
  const [id, nsI, jobI, tgI, idx, nodeI, dsI, stI, flags, cpu, mem, ver, depI, health, mt] = r;
  const ns = t[nsI];
  const job = t[jobI];
  const tg = t[tgI];
  const node = t[nodeI];
  const ds = t[dsI];
  const st = t[stI];
  const dep = t[depI];
  const sh = health === 0 ? undefined : health === 1;
  return {
    id, ns, job, tg, name: `${job}.${tg}[${idx}]`, node, ds, st, lost: !!(flags & 1), disc: !!(flags & 2), canary: !!(flags & 4),
    cpu, mem, ver, dep, mt, sh, mh: undefined, healthy: sh,
  };
}

function allocRow(a, prev) {
  const r = {
    id: a.id, ns: a.namespace, job: a.job_id, tg: a.task_group, name: a.name, node: a.node_id, ds: a.desired_status,
    lost: !!a.node_lost, disc: !!(a.disconnect_time && !a.disconnect_time.startsWith('0001')), cpu: a.resources?.cpu || 0,
    mem: a.resources?.memory || 0, ver: a.job_version ?? 0, canary: !!a.canary, dep: a.deployment_id,
    mt: Date.parse(a.modify_time || a.create_time) || 0, st: prev ? prev.st : '', sh: prev ? prev.sh : undefined,
    mh: a.manual_health ? a.manual_health.healthy : undefined,
  };
  r.healthy = r.mh ?? r.sh;
  return r;
}

function nodeRow(n, prev) {
  const drivers = {};
  for (const [name, d] of Object.entries(n.drivers || {})) if (d.detected) drivers[name] = d.healthy;
  return {
    id: n.id, name: n.name, dc: n.datacenter, pool: n.node_pool, class: n.node_class, addr: n.address,
    cpu: n.resources?.cpu || 0, mem: n.resources?.memory || 0, disk: n.resources?.disk || 0, drivers,
    status: prev ? prev.status : 'down', eligible: prev ? prev.eligible : true, drain: prev ? prev.drain : false,
  };
}

// keyOf returns the last segment of an event's key: an object's ID.
const lastSeg = (k) => k.slice(k.lastIndexOf('/') + 1);

const TOPIC_KIND = { Job: 'jobs', Allocation: 'allocs', Node: 'nodes', Evaluation: 'evals', Deployment: 'deployments' };

class Index {
  constructor() { this.m = new Map(); }
  add(k, id) {
    let s = this.m.get(k);
    if (!s) this.m.set(k, (s = new Set()));
    s.add(id);
  }
  del(k, id) {
    const s = this.m.get(k);
    if (s) {
      s.delete(id);
      if (!s.size) this.m.delete(k);
    }
  }
  get(k) { return this.m.get(k) || new Set(); }
}

export class Model {
  constructor() {
    this.jobs = new Map(); // ns/id → row
    this.allocs = new Map(); // id → row
    this.nodes = new Map(); // id → row
    this.evals = new Map(); // id → evaluation
    this.deployments = new Map(); // id → deployment
    this.servers = [];
    this.byJob = new Index(); // ns/job → alloc IDs
    this.byNode = new Index(); // node → alloc IDs
    this.evalsByJob = new Index();
    this.loaded = {}; // kind → the index it was read at
    this.loading = {};
    this.listeners = new Set();
    this.watchers = new Set();
    this.changed = new Set();
    this.timer = null;
    live.on((ev) => this.apply(ev));
    live.onCompacted = () => this.resync();
  }

  // ensure reads the kinds not read yet, and starts the event stream.
  async ensure(kinds) {
    const missing = kinds.filter((k) => !(k in this.loaded));
    if (missing.length) {
      const fresh = missing.filter((k) => !this.loading[k]);
      if (fresh.length) {
        const p = this.load(fresh);
        for (const k of fresh) this.loading[k] = p;
      }
      await Promise.all(missing.map((k) => this.loading[k]));
    }
    if (live.state === 'idle') {
      const idx = Math.max(0, ...Object.values(this.loaded));
      if (idx) live.start(idx);
    }
  }

  async load(kinds) {
    try {
      const t0 = performance.now();
      const { data } = await call('GET', `/v1/ui/snapshot?kinds=${kinds.join(',')}`);
      const t1 = performance.now();
      this.fill(kinds, data);
      // How long the last read took, for the benchmarks.
      this.lastLoad = { read: Math.round(t1 - t0), fill: Math.round(performance.now() - t1) };
    } finally {
      for (const k of kinds) delete this.loading[k];
    }
  }

  fill(kinds, snap) {
    for (const k of kinds) {
      if (k === 'jobs') {
        this.jobs = new Map((snap.jobs || []).map((j) => [`${j.ns}/${j.id}`, j]));
      } else if (k === 'allocs') {
        this.allocs = new Map();
        this.byJob = new Index();
        this.byNode = new Index();
        const strings = snap.strings || [];
        for (const r of snap.allocs || []) {
          const a = fromRow(r, strings);
          this.allocs.set(a.id, a);
          this.byJob.add(`${a.ns}/${a.job}`, a.id);
          this.byNode.add(a.node, a.id);
        }
      } else if (k === 'nodes') {
        this.nodes = new Map((snap.nodes || []).map((n) => [n.id, n]));
      } else if (k === 'evals') {
        this.evals = new Map();
        this.evalsByJob = new Index();
        for (const e of snap.evals || []) this.putEval(e);
      } else if (k === 'deployments') {
        this.deployments = new Map((snap.deployments || []).map((d) => [d.id, d]));
      } else if (k === 'servers') {
        this.servers = snap.servers || [];
        if (!this.followingServers) this.followServers(snap.index);
      }
      this.loaded[k] = snap.index;
      this.changed.add(k);
    }
    this.notify();
  }

  // resync reads every loaded kind again, after the stream's index was
  // compacted away, and resumes the stream from the new read.
  async resync() {
    const kinds = Object.keys(this.loaded);
    if (!kinds.length) return;
    for (;;) {
      try {
        const { data } = await call('GET', `/v1/ui/snapshot?kinds=${kinds.join(',')}`);
        this.fill(kinds, data);
        live.index = data.index;
        for (const fn of this.watchers) fn({ resync: true });
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  }

  // followServers keeps the servers fresh with blocking queries: the event
  // stream has no topic for them.
  async followServers(index) {
    this.followingServers = true;
    for (;;) {
      try {
        const r = await call('GET', `/v1/servers?index=${index}&wait=60s`);
        index = r.index;
        this.servers = r.data;
        this.changed.add('servers');
        this.notify();
      } catch {
        await new Promise((res) => setTimeout(res, 3000));
      }
    }
  }

  putAlloc(a) {
    const old = this.allocs.get(a.id);
    if (old) {
      this.byJob.del(`${old.ns}/${old.job}`, a.id);
      this.byNode.del(old.node, a.id);
    }
    this.allocs.set(a.id, a);
    this.byJob.add(`${a.ns}/${a.job}`, a.id);
    this.byNode.add(a.node, a.id);
  }

  delAlloc(id) {
    const old = this.allocs.get(id);
    if (!old) return;
    this.allocs.delete(id);
    this.byJob.del(`${old.ns}/${old.job}`, id);
    this.byNode.del(old.node, id);
  }

  putEval(e) {
    this.evals.set(e.id, e);
    this.evalsByJob.add(`${e.namespace}/${e.job_id}`, e.id);
  }

  // apply changes the model by one event of the stream.
  apply(ev) {
    for (const fn of this.watchers) fn(ev);
    const kind = TOPIC_KIND[ev.topic];
    if (!kind || !(kind in this.loaded) || ev.index <= this.loaded[kind]) return;
    const p = ev.payload;
    switch (ev.topic) {
      case 'Job':
        if (ev.type === 'JobDeleted') this.jobs.delete(ev.key);
        else if (p) this.jobs.set(ev.key, jobRow(p));
        break;
      case 'Allocation': {
        const id = lastSeg(ev.key);
        const old = this.allocs.get(id);
        if (ev.type === 'AllocationStatus') {
          if (old && p) {
            old.st = p.client_status || '';
            old.sh = p.health ? p.health.healthy : undefined;
            old.healthy = old.mh ?? old.sh;
            if (p.update_time) old.mt = Math.max(old.mt || 0, Date.parse(p.update_time) || 0);
          }
        } else if (ev.type === 'AllocationDeleted') {
          // The allocation's own key (its status key's deletion follows).
          if (p && p.job_id) this.delAlloc(id);
        } else if (p) {
          this.putAlloc(allocRow(p, old));
        }
        break;
      }
      case 'Node': {
        const id = ev.key;
        const old = this.nodes.get(id);
        if (ev.type === 'NodeReady' || ev.type === 'NodeDown') {
          const n = old || { id, name: id.slice(0, 8), drivers: {}, eligible: true };
          n.status = ev.type === 'NodeReady' ? 'ready' : 'down';
          this.nodes.set(id, n);
        } else if (ev.type === 'NodeDeleted') {
          if (p && p.id) this.nodes.delete(id);
          else if (old) Object.assign(old, { eligible: true, drain: false });
        } else if (p && p.id) {
          this.nodes.set(id, nodeRow(p, old));
        } else if (p && old) {
          // The operator's record: eligibility and drain.
          old.eligible = !!p.eligible;
          old.drain = !!p.drain;
        }
        break;
      }
      case 'Evaluation':
        if (ev.type === 'EvaluationDeleted') {
          const id = lastSeg(ev.key);
          const e = this.evals.get(id);
          if (e) {
            this.evals.delete(id);
            this.evalsByJob.del(`${e.namespace}/${e.job_id}`, id);
          }
        } else if (p) this.putEval(p);
        break;
      case 'Deployment':
        if (ev.type === 'DeploymentDeleted') this.deployments.delete(lastSeg(ev.key));
        else if (p) this.deployments.set(p.id, p);
        break;
      default:
        return;
    }
    this.changed.add(kind);
    this.notify();
  }

  // notify tells the listeners which kinds changed, at most every 100 ms.
  notify() {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const changed = this.changed;
      this.changed = new Set();
      for (const fn of this.listeners) fn(changed);
    }, 100);
  }

  // subscribe calls fn with the set of kinds that changed.
  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  // watch calls fn with every raw event, for pages of one object.
  watch(fn) {
    this.watchers.add(fn);
    return () => this.watchers.delete(fn);
  }

  jobAllocs(ns, id) {
    return [...this.byJob.get(`${ns}/${id}`)].map((a) => this.allocs.get(a)).filter(Boolean);
  }

  nodeAllocs(id) {
    return [...this.byNode.get(id)].map((a) => this.allocs.get(a)).filter(Boolean);
  }

  jobEvals(ns, id) {
    return [...this.evalsByJob.get(`${ns}/${id}`)].map((e) => this.evals.get(e)).filter(Boolean);
  }

  statusOf(job) {
    return jobStatus(job, this.jobAllocs(job.ns, job.id), this.jobEvals(job.ns, job.id));
  }
}

export const model = new Model();
