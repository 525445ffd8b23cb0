// The event stream: one connection per tab to GET /v1/event/stream as
// server-sent events, resumed from the last index it saw whenever it
// drops (a network blip, a server restart), with its state shown by the
// shell's indicator.

import { stream } from './api.js';

// How long without a byte (the server sends {} every 30 s) before the
// stream is taken for dead and reopened.
const SILENCE_MS = 45000;

export class Live {
  constructor() {
    this.index = 0;
    this.state = 'idle'; // idle, connecting, live, reconnecting
    this.listeners = new Set();
    this.stateListeners = new Set();
    this.abort = null;
    this.attempt = 0;
    this.since = 0;
    this.events = 0;
    this.onCompacted = () => {};
  }

  // start opens the stream from index unless it runs already.
  start(index) {
    if (this.state !== 'idle') return;
    this.index = index;
    this.loop();
  }

  // restart reopens the stream from index (after a resync).
  restart(index) {
    this.index = index;
    if (this.abort) this.abort.abort();
    if (this.state === 'idle') this.loop();
  }

  on(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  onState(fn) {
    this.stateListeners.add(fn);
    fn(this.state, this);
    return () => this.stateListeners.delete(fn);
  }

  setState(s) {
    if (s === this.state) return;
    this.state = s;
    if (s !== 'live') this.since = this.since || Date.now();
    else this.since = 0;
    for (const fn of this.stateListeners) fn(s, this);
  }

  async loop() {
    this.setState(this.attempt ? 'reconnecting' : 'connecting');
    for (;;) {
      const ac = new AbortController();
      this.abort = ac;
      let buf = '';
      let watchdog = null;
      const kick = () => {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => ac.abort(), SILENCE_MS);
      };
      const from = this.index;
      try {
        kick();
        // From one revision before: a drop in the middle of a revision's
        // changes loses none of them (the model applies a change twice
        // harmlessly).
        await stream(`/v1/event/stream?index=${Math.max(1, from - 1)}`, (text) => {
          kick();
          buf += text;
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const frame = buf.slice(0, i);
            buf = buf.slice(i + 2);
            this.frame(frame);
          }
        }, ac.signal, 'text/event-stream', () => {
          this.attempt = 0;
          this.setState('live');
        });
      } catch {
        // A refused token has asked the shell for another; anything else
        // is retried below.
      } finally {
        clearTimeout(watchdog);
      }
      if (this.paused) {
        this.setState('idle');
        return;
      }
      if (this.compacted) {
        this.compacted = false;
        await this.onCompacted();
        continue;
      }
      this.attempt++;
      this.setState('reconnecting');
      await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** Math.min(this.attempt, 5))));
    }
  }

  // frame handles one server-sent event (its data: lines).
  frame(frame) {
    // The server sends {} as a keep-alive.
    const data = frame.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
    if (!data) return;
    let ev;
    try {
      ev = JSON.parse(data);
    } catch {
      return;
    }
    if (ev.error) {
      // The index was compacted away: read the state again.
      this.compacted = true;
      if (this.abort) this.abort.abort();
      return;
    }
    if (!ev.topic) return;
    if (ev.index > this.index) this.index = ev.index;
    this.events++;
    for (const fn of this.listeners) fn(ev);
  }
}

export const live = new Live();

// A page left for another keeps its connections until the browser drops
// it, and browsers allow six HTTP/1.1 connections per server: close the
// stream when the page is hidden for good, open it again if it comes back
// from the back-forward cache.
window.addEventListener('pagehide', () => {
  live.paused = true;
  if (live.abort) live.abort.abort();
});
window.addEventListener('pageshow', (e) => {
  if (e.persisted && live.paused) {
    live.paused = false;
    if (live.state === 'idle' && live.index) live.loop();
  }
});
