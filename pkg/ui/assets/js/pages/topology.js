// The topology: every node a tile filled by what its allocations ask for,
// memory above and cpu below, grouped by datacenter. It is drawn on a
// canvas, and only the rows in view are drawn, so thousands of nodes stay
// quick; above 600 nodes each node becomes a small square coloured by its
// memory use. Hover or focus a node for its numbers; click or press Enter
// to open it.

import { model, terminal, clientStatus } from '../model.js';
import { html, raw, mhz, mib, num, coalesce, nodeHref } from '../util.js';
import { setQuery } from '../nav.js';

const DETAIL = { w: 132, h: 50, gap: 8 };
const COMPACT = { w: 14, h: 14, gap: 3 };
const HEADER = 30;

function css(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

// summarize computes, per node, what its live allocations use.
function summarize() {
  const per = new Map();
  for (const n of model.nodes.values()) per.set(n.id, { n, cpu: 0, mem: 0, allocs: [] });
  for (const a of model.allocs.values()) {
    if (terminal(a)) continue;
    const s = per.get(a.node);
    if (!s) continue;
    s.cpu += a.cpu;
    s.mem += a.mem;
    s.allocs.push(a);
  }
  return per;
}

export default {
  title: () => 'Topology',
  kinds: () => ['nodes', 'allocs'],
  mount(root, route) {
    const q = { dc: '', q: '', mode: '', ...route.query };
    root.innerHTML = html`<div class="head"><div><h1>Topology</h1><p class="muted" id="topo-sum"></p></div>
        <div class="actions"><a class="button" href="#/nodes">As a table</a></div></div>
      <form class="filters" role="search" aria-label="filter the topology">
        <div class="grow"><label for="t-q">Highlight</label><input id="t-q" type="search" name="q" value="${q.q}" placeholder="node name or job  ( / )" autocomplete="off"></div>
        <div><label for="t-dc">Datacenter</label><select id="t-dc" name="dc"></select></div>
        <div><label for="t-mode">Tiles</label><select id="t-mode" name="mode">
          ${[['', 'automatic'], ['detail', 'allocations'], ['compact', 'memory use']].map(([v, l]) => html`<option value="${v}" ${v === q.mode ? raw('selected') : ''}>${l}</option>`)}</select></div>
      </form>
      <div class="legend" aria-hidden="true"><span><i id="lg-run"></i>running</span><span><i id="lg-pend"></i>pending</span><span><i id="lg-other"></i>other</span><span><i id="lg-free"></i>free</span><span><i id="lg-down"></i>node down</span></div>
      <div id="topo-wrap" tabindex="0" role="application" aria-roledescription="node map" aria-label="Node topology: arrow keys move between nodes, Enter opens one">
        <canvas id="topo"></canvas><div id="topo-space"></div></div>
      <p id="topo-focus" class="muted" role="status" aria-live="polite"></p>
      <div id="topo-tip" hidden></div>`;
    const wrap = root.querySelector('#topo-wrap');
    const canvas = root.querySelector('#topo');
    const space = root.querySelector('#topo-space');
    const tip = root.querySelector('#topo-tip');
    const sum = root.querySelector('#topo-sum');
    const dcSel = root.querySelector('#t-dc');
    const focusLine = root.querySelector('#topo-focus');
    const ctx = canvas.getContext('2d');
    let colors = {};
    let per = new Map();
    let rows = []; // {y, h, header?: text, tiles?: [{s, x}]}
    let flat = []; // tiles in order, for the keyboard
    let total = 0;
    let dims = DETAIL;
    let focus = -1;
    let hover = null;

    const readColors = () => {
      colors = {
        fg: css('--fg'), muted: css('--muted'), line: css('--line'), panel: css('--panel'), free: css('--bar'), run: css('--bar-fill'),
        pend: css('--warm'), other: css('--idle'), down: css('--hot'), focus: css('--focus'), hl: css('--info'),
      };
      for (const [id, c] of [['lg-run', colors.run], ['lg-pend', colors.pend], ['lg-other', colors.other], ['lg-free', colors.free], ['lg-down', colors.down]]) {
        root.querySelector(`#${id}`).style.background = c;
      }
    };

    const layout = () => {
      per = summarize();
      const dcs = [...new Set([...model.nodes.values()].map((n) => n.dc))].sort();
      dcSel.innerHTML = html`${['', ...dcs].map((d) => html`<option value="${d}" ${d === q.dc ? raw('selected') : ''}>${d || 'all'}</option>`)}`;
      const list = [...per.values()].filter((s) => !q.dc || s.n.dc === q.dc);
      const compact = q.mode ? q.mode === 'compact' : list.length > 600;
      dims = compact ? COMPACT : DETAIL;
      const width = wrap.clientWidth - 16;
      const perRow = Math.max(1, Math.floor((width + dims.gap) / (dims.w + dims.gap)));
      rows = [];
      flat = [];
      let y = 8;
      let cpu = 0;
      let cpuT = 0;
      let mem = 0;
      let memT = 0;
      let nAllocs = 0;
      const byDC = new Map();
      for (const s of list) {
        if (!byDC.has(s.n.dc)) byDC.set(s.n.dc, []);
        byDC.get(s.n.dc).push(s);
      }
      for (const dc of [...byDC.keys()].sort()) {
        const nodes = byDC.get(dc).sort((a, b) => (a.n.name < b.n.name ? -1 : a.n.name > b.n.name ? 1 : 0));
        let dm = 0;
        let dmt = 0;
        for (const s of nodes) {
          dm += s.mem;
          dmt += s.n.mem;
          cpu += s.cpu;
          cpuT += s.n.cpu;
          nAllocs += s.allocs.length;
        }
        mem += dm;
        memT += dmt;
        rows.push({ y, h: HEADER, header: `${dc} — ${num(nodes.length)} nodes, memory ${dmt ? Math.round((100 * dm) / dmt) : 0}% used` });
        y += HEADER;
        for (let i = 0; i < nodes.length; i += perRow) {
          const tiles = nodes.slice(i, i + perRow).map((s, j) => ({ s, x: 8 + j * (dims.w + dims.gap), y }));
          for (const t of tiles) flat.push(t);
          rows.push({ y, h: dims.h + dims.gap, tiles });
          y += dims.h + dims.gap;
        }
        y += 6;
      }
      total = y + 8;
      sum.textContent = `${num(list.length)} nodes · ${num(nAllocs)} allocations · cpu ${cpuT ? Math.round((100 * cpu) / cpuT) : 0}% · memory ${memT ? Math.round((100 * mem) / memT) : 0}% of ${mib(memT)}`;
      if (!list.length) sum.textContent = 'No node.';
      if (focus >= flat.length) focus = flat.length - 1;
    };

    const size = () => {
      const dpr = window.devicePixelRatio || 1;
      const w = wrap.clientWidth;
      const h = wrap.clientHeight;
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
      canvas.style.width = `${w}px`;
      canvas.style.height = `${h}px`;
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      space.style.height = `${Math.max(0, total - h)}px`;
    };

    const segColor = (a) => {
      const cs = clientStatus(a);
      return cs === 'running' ? colors.run : cs === 'pending' ? colors.pend : colors.other;
    };

    const drawBar = (allocs, key, cap, x, y, w, h) => {
      ctx.fillStyle = colors.free;
      ctx.fillRect(x, y, w, h);
      if (!cap) return;
      let off = 0;
      for (const a of allocs) {
        const aw = (a[key] / cap) * w;
        if (aw <= 0) continue;
        ctx.fillStyle = segColor(a);
        ctx.fillRect(x + off, y, Math.max(1, Math.min(aw, w - off)), h);
        off += aw;
        if (aw > 3 && off < w) {
          ctx.fillStyle = colors.panel;
          ctx.fillRect(x + off - 1, y, 1, h);
        }
        if (off >= w) break;
      }
    };

    const needle = () => q.q.toLowerCase();
    const matches = (s, n) => n && (s.n.name.toLowerCase().includes(n) || s.allocs.some((a) => a.job.toLowerCase().includes(n)));

    const draw = () => {
      const top = wrap.scrollTop;
      const h = wrap.clientHeight;
      const w = wrap.clientWidth;
      ctx.clearRect(0, 0, w, h);
      ctx.font = '12px system-ui, sans-serif';
      ctx.textBaseline = 'middle';
      const n = needle();
      // The first row in view, by binary search over the rows' y.
      let lo = 0;
      let hi = rows.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (rows[mid].y + rows[mid].h < top) lo = mid + 1;
        else hi = mid;
      }
      for (let i = lo; i < rows.length && rows[i].y < top + h; i++) {
        const r = rows[i];
        const y = r.y - top;
        if (r.header) {
          ctx.fillStyle = colors.fg;
          ctx.font = '600 13px system-ui, sans-serif';
          ctx.fillText(r.header, 8, y + HEADER / 2);
          ctx.font = '12px system-ui, sans-serif';
          continue;
        }
        for (const t of r.tiles) {
          const s = t.s;
          const down = s.n.status !== 'ready';
          if (dims === COMPACT) {
            const u = s.n.mem ? s.mem / s.n.mem : 0;
            ctx.fillStyle = down ? colors.down : colors.free;
            ctx.fillRect(t.x, y, dims.w, dims.h);
            if (!down && u > 0) {
              ctx.fillStyle = u >= 0.9 ? colors.pend : colors.run;
              const fh = Math.max(2, Math.round(u * dims.h));
              ctx.fillRect(t.x, y + dims.h - fh, dims.w, fh);
            }
          } else {
            ctx.fillStyle = colors.panel;
            ctx.fillRect(t.x, y, dims.w, dims.h);
            ctx.strokeStyle = down ? colors.down : colors.line;
            ctx.lineWidth = down ? 2 : 1;
            ctx.strokeRect(t.x + 0.5, y + 0.5, dims.w - 1, dims.h - 1);
            ctx.fillStyle = down ? colors.down : s.n.eligible ? colors.fg : colors.muted;
            const label = s.n.name.length > 18 ? `${s.n.name.slice(0, 17)}…` : s.n.name;
            ctx.fillText(`${label}${down ? ' (down)' : s.n.drain ? ' (drain)' : ''}`, t.x + 6, y + 11);
            drawBar(s.allocs, 'mem', s.n.mem, t.x + 6, y + 22, dims.w - 12, 10);
            drawBar(s.allocs, 'cpu', s.n.cpu, t.x + 6, y + 35, dims.w - 12, 8);
          }
          if (matches(s, n)) {
            ctx.strokeStyle = colors.hl;
            ctx.lineWidth = 2;
            ctx.strokeRect(t.x - 1.5, y - 1.5, dims.w + 3, dims.h + 3);
          }
          if (focus >= 0 && flat[focus] === t) {
            ctx.strokeStyle = colors.focus;
            ctx.lineWidth = 3;
            ctx.strokeRect(t.x - 3, y - 3, dims.w + 6, dims.h + 6);
          }
        }
      }
    };

    const describe = (s) => `${s.n.name}: ${s.n.status}${s.n.drain ? ', draining' : ''}${s.n.eligible ? '' : ', ineligible'}; memory ${mib(s.mem)} of ${mib(s.n.mem)}, cpu ${mhz(s.cpu)} of ${mhz(s.n.cpu)}; ${s.allocs.length} allocations`;

    const tileAt = (px, py) => {
      const y = py + wrap.scrollTop;
      for (const r of rows) {
        if (!r.tiles || y < r.y || y > r.y + dims.h) continue;
        for (const t of r.tiles) if (px >= t.x && px <= t.x + dims.w) return t;
      }
      return null;
    };

    const showTip = (t, cx, cy) => {
      if (!t) {
        tip.hidden = true;
        return;
      }
      const s = t.s;
      const top = [...s.allocs].sort((a, b) => b.mem - a.mem).slice(0, 8);
      tip.innerHTML = html`<strong>${s.n.name}</strong> <span class="muted">${s.n.dc}</span><br>${s.n.status}${s.n.drain ? ', draining' : ''}${s.n.eligible ? '' : ', ineligible'}<br>
        memory ${mib(s.mem)} / ${mib(s.n.mem)} · cpu ${mhz(s.cpu)} / ${mhz(s.n.cpu)}<br>${num(s.allocs.length)} allocations
        ${top.length ? html`<ul class="events">${top.map((a) => html`<li>${a.name} <span class="muted">${mib(a.mem)} · ${clientStatus(a)}</span></li>`)}</ul>` : ''}`;
      tip.hidden = false;
      tip.style.left = `${Math.min(cx + 14, window.innerWidth - tip.offsetWidth - 8)}px`;
      tip.style.top = `${Math.min(cy + 14, window.innerHeight - tip.offsetHeight - 8)}px`;
    };

    const full = () => {
      layout();
      size();
      draw();
    };
    wrap.addEventListener('scroll', () => requestAnimationFrame(draw), { passive: true });
    wrap.addEventListener('mousemove', (e) => {
      const b = canvas.getBoundingClientRect();
      hover = tileAt(e.clientX - b.left, e.clientY - b.top);
      showTip(hover, e.clientX, e.clientY);
      wrap.style.cursor = hover ? 'pointer' : 'default';
    });
    wrap.addEventListener('mouseleave', () => { tip.hidden = true; });
    wrap.addEventListener('click', () => { if (hover) location.hash = nodeHref(hover.s.n.id); });
    wrap.addEventListener('keydown', (e) => {
      if (!flat.length) return;
      const perRow = rows.find((r) => r.tiles)?.tiles.length || 1;
      const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: perRow, ArrowUp: -perRow, Home: -Infinity, End: Infinity };
      if (e.key in moves) {
        e.preventDefault();
        focus = Math.max(0, Math.min(flat.length - 1, (focus < 0 ? 0 : focus) + moves[e.key]));
        const t = flat[focus];
        if (t.y < wrap.scrollTop) wrap.scrollTop = t.y - HEADER;
        else if (t.y + dims.h > wrap.scrollTop + wrap.clientHeight) wrap.scrollTop = t.y + dims.h - wrap.clientHeight + 8;
        focusLine.textContent = describe(t.s);
        draw();
      } else if (e.key === 'Enter' && focus >= 0) {
        location.hash = nodeHref(flat[focus].s.n.id);
      }
    });
    const form = root.querySelector('form');
    form.addEventListener('input', (e) => {
      q[e.target.name] = e.target.value;
      setQuery({ [e.target.name]: e.target.value });
      if (e.target.name === 'q') draw();
      else full();
    });
    form.addEventListener('submit', (e) => e.preventDefault());
    const onResize = coalesce(full, 100);
    window.addEventListener('resize', onResize);
    const scheme = matchMedia('(prefers-color-scheme: dark)');
    const onScheme = () => { readColors(); draw(); };
    scheme.addEventListener('change', onScheme);
    readColors();
    full();
    wrap.dataset.tiles = String(flat.length);
    const later = coalesce(() => { full(); wrap.dataset.tiles = String(flat.length); }, 250);
    return {
      update: (c) => (c.has('nodes') || c.has('allocs')) && later(),
      unmount() {
        window.removeEventListener('resize', onResize);
        scheme.removeEventListener('change', onScheme);
      },
    };
  },
};
