// follow keeps the page of one object fresh: it reads the object's parts
// once, then again whenever an event of the stream names them (at most
// every 150 ms per part), and renders after each read.

import { call } from './api.js';
import { live } from './live.js';
import { model } from './model.js';

// parts maps a name to the API path it is read from; match(event, data)
// returns the names of the parts an event touches.
export function follow({ parts, match, render, onError }) {
  const data = {};
  const dirty = new Set();
  let timer = null;
  let stopped = false;
  let inflight = null;
  const read = async (names) => {
    const got = await Promise.all(names.map(async (n) => {
      try {
        const r = await call('GET', parts[n]);
        return [n, r];
      } catch (e) {
        if (e.status === 404) return [n, { data: null, index: 0, missing: true }];
        throw e;
      }
    }));
    let index = 0;
    for (const [n, r] of got) {
      data[n] = r.data;
      index = Math.max(index, r.index);
    }
    return index;
  };
  const flush = async () => {
    timer = null;
    if (stopped || !dirty.size) return;
    if (inflight) {
      await inflight;
      if (!timer) timer = setTimeout(flush, 0);
      return;
    }
    const names = [...dirty];
    dirty.clear();
    inflight = read(names).then(() => { if (!stopped) render(data, names); }).catch((e) => onError?.(e)).finally(() => { inflight = null; });
  };
  const mark = (names) => {
    for (const n of names) dirty.add(n);
    if (!timer && dirty.size) timer = setTimeout(flush, 150);
  };
  const unwatch = model.watch((ev) => {
    if (ev.resync) return mark(Object.keys(parts));
    mark(match(ev, data) || []);
  });
  const start = (async () => {
    const index = await read(Object.keys(parts));
    if (live.state === 'idle' && index) live.start(index);
    render(data, Object.keys(parts));
  })();
  return {
    data,
    ready: start,
    refresh: (names = Object.keys(parts)) => mark(names),
    stop() {
      stopped = true;
      unwatch();
      clearTimeout(timer);
    },
  };
}
