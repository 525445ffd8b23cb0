// Routing helpers shared by the shell and the pages: the route in the
// URL's fragment, and short messages to the user.

// parse splits the URL's fragment into path segments and query.
export function parse(hash = location.hash) {
  const h = hash.replace(/^#\/?/, '');
  const [p, q] = h.split('?');
  const path = p.split('/').filter(Boolean).map(decodeURIComponent);
  return { path, query: Object.fromEntries(new URLSearchParams(q || '')), hash: h };
}

// setQuery replaces the route's query without a new history entry, so
// filters are deep links too.
export function setQuery(query) {
  const r = parse();
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...r.query, ...query })) if (v !== '' && v !== undefined && v !== null) p.set(k, v);
  const s = p.toString();
  const next = `#/${r.path.map(encodeURIComponent).join('/')}${s ? `?${s}` : ''}`;
  history.replaceState(null, '', next);
  window.dispatchEvent(new Event('nomadic:query'));
}

// toast shows a short message in the corner (read by screen readers).
export function toast(text, bad = false) {
  const box = document.getElementById('toast');
  const div = document.createElement('div');
  div.className = bad ? 'msg bad' : 'msg';
  div.textContent = text;
  box.append(div);
  setTimeout(() => div.remove(), bad ? 9000 : 4000);
}
