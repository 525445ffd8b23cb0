// diffValues lists the fields that differ between two JSON values, by
// path: added, deleted or modified, the way `nctl plan` shows a job's diff.
export function diffValues(a, b, path = '', out = []) {
  if (JSON.stringify(a) === JSON.stringify(b)) return out;
  const isObj = (v) => v && typeof v === 'object';
  if (isObj(a) && isObj(b) && Array.isArray(a) === Array.isArray(b)) {
    const keys = Array.isArray(a) ? [...Array(Math.max(a.length, b.length)).keys()] : [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys) {
      const p = Array.isArray(a) ? `${path}[${k}]` : path ? `${path}.${k}` : String(k);
      if (!(k in a)) out.push({ op: 'add', path: p, new: b[k] });
      else if (!(k in b)) out.push({ op: 'del', path: p, old: a[k] });
      else diffValues(a[k], b[k], p, out);
    }
    return out;
  }
  if (a === undefined) out.push({ op: 'add', path, new: b });
  else if (b === undefined) out.push({ op: 'del', path, old: a });
  else out.push({ op: 'mod', path, old: a, new: b });
  return out;
}
