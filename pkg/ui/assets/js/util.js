// Small helpers shared by every page: escaping HTML, formatting IDs,
// times, sizes and statuses, and coalescing work.

const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

// esc escapes a value for HTML text or a quoted attribute.
export function esc(v) {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ESC[c]);
}

// Raw marks a string as HTML already, so html`` does not escape it.
export class Raw {
  constructor(s) { this.s = s; }
  toString() { return this.s; }
}
export const raw = (s) => new Raw(s);

// html is a template tag that escapes every interpolated value except Raw
// ones and arrays of them (the output of nested html``).
export function html(strings, ...values) {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) {
    out += flat(values[i]) + strings[i + 1];
  }
  return new Raw(out);
}
function flat(v) {
  if (v instanceof Raw) return v.s;
  if (Array.isArray(v)) return v.map(flat).join('');
  if (v === false || v === null || v === undefined) return '';
  return esc(v);
}

// short is the 8-character form of an ID that nctl shows too.
export const short = (id) => (id || '').slice(0, 8);

// idLink links to an object by its short ID, the full ID on hover.
export function idLink(href, id) {
  return html`<a href="${href}" class="id" title="${id}">${short(id)}</a>`;
}

const UNITS = [[86400, 'd'], [3600, 'h'], [60, 'm'], [1, 's']];

// ago formats a time relative to now ("3m ago", "in 20s").
export function ago(t, now = Date.now()) {
  const ms = typeof t === 'number' ? t : Date.parse(t);
  if (!ms || ms < 0) return '–';
  let d = Math.round((now - ms) / 1000);
  const future = d < 0;
  d = Math.abs(d);
  if (d < 5) return 'just now';
  for (const [s, u] of UNITS) {
    if (d >= s) {
      const n = Math.floor(d / s);
      return future ? `in ${n}${u}` : `${n}${u} ago`;
    }
  }
  return 'just now';
}

// when is a <time> with the relative time as text and the absolute one on
// hover; the shell refreshes its text every few seconds.
export function when(t) {
  const ms = typeof t === 'number' ? t : Date.parse(t);
  if (!t || !ms || ms <= 0) return html`<span class="muted">–</span>`;
  const abs = new Date(ms).toLocaleString();
  return html`<time datetime="${new Date(ms).toISOString()}" title="${abs}">${ago(ms)}</time>`;
}

// refreshTimes updates the text of every relative time in el.
export function refreshTimes(el) {
  const now = Date.now();
  for (const t of el.querySelectorAll('time[datetime]')) {
    const s = ago(Date.parse(t.getAttribute('datetime')), now);
    if (t.textContent !== s) t.textContent = s;
  }
}

export function duration(ns) {
  if (typeof ns === 'string') return ns;
  const s = ns / 1e9;
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.round(s / 60)}m`;
  return `${Math.round(s / 3600)}h`;
}

export function bytes(n) {
  if (n < 1024) return `${n} B`;
  const u = ['KiB', 'MiB', 'GiB', 'TiB'];
  let i = -1;
  do { n /= 1024; i++; } while (n >= 1024 && i < u.length - 1);
  return `${n.toFixed(n < 10 ? 1 : 0)} ${u[i]}`;
}

export const mib = (n) => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} TiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} GiB` : `${n} MiB`);
export const mhz = (n) => (n >= 1000 ? `${(n / 1000).toFixed(1)} GHz` : `${n} MHz`);
export const num = (n) => Number(n || 0).toLocaleString('en');

// badge shows a status with its colour class.
export function badge(status, extra = '') {
  return html`<span class="badge s-${status || 'none'}">${status || '–'}${extra}</span>`;
}

// bar shows used of total as a meter, with the numbers for screen readers
// and on hover.
export function bar(used, total, label, fmt = num) {
  const pct = total > 0 ? Math.min(100, (100 * used) / total) : 0;
  const cls = pct >= 90 ? 'hot' : pct >= 70 ? 'warm' : '';
  const text = `${label}: ${fmt(used)} of ${fmt(total)} (${pct.toFixed(0)}%)`;
  return html`<span class="bar ${cls}" role="meter" aria-valuemin="0" aria-valuemax="${total}" aria-valuenow="${used}"
    aria-label="${text}" title="${text}"><span style="width:${pct.toFixed(1)}%"></span></span>`;
}

// coalesce returns a function that runs fn at most once per wait ms, at
// the end of the wait (later calls within it merge into that run).
export function coalesce(fn, wait) {
  let timer = null;
  let args = null;
  return (...a) => {
    args = a;
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      fn(...args);
    }, wait);
  };
}

// param reads a query parameter of the current route.
export function qs(obj) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(obj)) if (v !== '' && v !== undefined && v !== null) p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : '';
}

// jobHref links to a job's page.
export const jobHref = (ns, id) => `#/job/${encodeURIComponent(ns || 'default')}/${encodeURIComponent(id)}`;
export const allocHref = (id) => `#/alloc/${id}`;
export const nodeHref = (id) => `#/node/${id}`;
export const evalHref = (id) => `#/eval/${id}`;

// hash returns a stable small number for a string, for colours.
export function hash(s) {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

// sortBy sorts a list by a key function, descending when desc.
export function sortBy(list, key, desc = false) {
  const m = desc ? -1 : 1;
  return list.sort((a, b) => {
    const x = key(a);
    const y = key(b);
    return x < y ? -m : x > y ? m : 0;
  });
}

// pager cuts a list into pages of size n and renders the controls.
export function page(list, pageNo, n = 100) {
  const pages = Math.max(1, Math.ceil(list.length / n));
  const p = Math.min(Math.max(1, pageNo || 1), pages);
  return { rows: list.slice((p - 1) * n, p * n), p, pages, from: list.length ? (p - 1) * n + 1 : 0, to: Math.min(p * n, list.length), total: list.length };
}

export function pagerHTML(pg) {
  if (pg.pages <= 1) return html`<p class="muted count">${num(pg.total)} shown</p>`;
  return html`<nav class="pager" aria-label="pages">
    <button type="button" data-page="${pg.p - 1}" ${pg.p <= 1 ? raw('disabled') : ''}>← Previous</button>
    <span>${num(pg.from)}–${num(pg.to)} of ${num(pg.total)}</span>
    <button type="button" data-page="${pg.p + 1}" ${pg.p >= pg.pages ? raw('disabled') : ''}>Next →</button>
  </nav>`;
}
