// follow keeps the page of one object fresh: it reads the object's parts
// once, then again whenever an event of the stream names them (at most
// every 150 ms per part), and renders after each read.
//
// match may need what a read brings (a job's page knows an allocation's
// status events by the IDs its last read listed): an event it places
// nowhere while a read is pending or in flight is matched again after
// that read renders, so a status that overtakes the read of its new
// allocation still refreshes the page.

// maxHeld bounds the events kept for a second match; past it, every part
// is read again instead.
const maxHeld = 256;

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
  let reading = 0;
  let held = [];
  let overflow = false;
  const read = async (names) => {
    reading++;
    try {
      return await readParts(names);
    } finally {
      reading--;
    }
  };
  const readParts = async (names) => {
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
    inflight = read(names).then(() => { if (!stopped) render(data, names); }).catch((e) => onError?.(e)).finally(() => { inflight = null; rematch(); });
  };
  const mark = (names) => {
    for (const n of names) dirty.add(n);
    if (!timer && dirty.size) timer = setTimeout(flush, 150);
  };
  // consider marks the parts an event touches, or holds it for a second
  // match when a read that may teach match about it is on its way.
  const consider = (ev) => {
    const names = match(ev, data) || [];
    if (names.length) return mark(names);
    if (!reading && !timer && !inflight) return;
    if (held.length < maxHeld) held.push(ev);
    else overflow = true;
  };
  // rematch runs the held events through match again once a read has
  // rendered.
  const rematch = () => {
    if (stopped || reading) return;
    const again = held;
    held = [];
    if (overflow) {
      overflow = false;
      return mark(Object.keys(parts));
    }
    for (const ev of again) {
      const names = match(ev, data) || [];
      if (names.length) mark(names);
    }
  };
  const unwatch = model.watch((ev) => {
    if (ev.resync) return mark(Object.keys(parts));
    consider(ev);
  });
  const start = (async () => {
    try {
      const index = await read(Object.keys(parts));
      if (live.state === 'idle' && index) live.start(index);
      render(data, Object.keys(parts));
    } finally {
      rematch();
    }
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
