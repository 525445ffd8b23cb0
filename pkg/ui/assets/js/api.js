// The native API from the browser: every request carries the session's
// token when there is one; a 401 or 403 asks the shell for one.

const KEY = 'nomadic.token';

// session holds the token for this browser tab's session only
// (sessionStorage: gone when the tab closes).
export const session = {
  token: sessionStorage.getItem(KEY) || '',
  // required is set once the server answered 401 without a token.
  required: false,
  // refused is the server's reason when it refused the token.
  refused: '',
  onNeed: () => {},
  set(token) {
    this.token = token;
    this.refused = '';
    if (token) sessionStorage.setItem(KEY, token);
    else sessionStorage.removeItem(KEY);
  },
};

// ApiError is an API answer other than 2xx, with the server's message.
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function headers(extra = {}) {
  const h = { ...extra };
  if (session.token) h.Authorization = `Bearer ${session.token}`;
  return h;
}

async function fail(resp) {
  let msg = `${resp.status} ${resp.statusText}`;
  try {
    const b = await resp.json();
    if (b && b.error) msg = b.error;
  } catch { /* not JSON */ }
  if (resp.status === 401) {
    session.required = true;
    session.onNeed(msg);
  } else if (resp.status === 403) {
    session.required = true;
    session.refused = msg;
    session.onNeed(msg);
  }
  return new ApiError(resp.status, msg);
}

// call sends a request and returns the decoded JSON answer and the index
// the server read it at (X-Nomadic-Index).
export async function call(method, path, body, opts = {}) {
  const init = { method, headers: headers(body !== undefined ? { 'Content-Type': 'application/json' } : {}), signal: opts.signal };
  if (body !== undefined) init.body = JSON.stringify(body);
  const resp = await fetch(path, init);
  if (!resp.ok) throw await fail(resp);
  const index = Number(resp.headers.get('X-Nomadic-Index') || 0);
  const text = await resp.text();
  return { data: text ? JSON.parse(text) : null, index };
}

export const get = async (path, opts) => (await call('GET', path, undefined, opts)).data;

// stream fetches a streaming answer and hands each chunk of text to onText
// until it ends or signal aborts.
export async function stream(path, onText, signal, accept = '*/*', onOpen = () => {}) {
  const resp = await fetch(path, { headers: headers({ Accept: accept }), signal });
  if (!resp.ok) throw await fail(resp);
  onOpen();
  const reader = resp.body.getReader();
  const dec = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    onText(dec.decode(value, { stream: true }));
  }
}

// can says whether the session may change the cluster, and if not, why.
// The API has one kind of token: any token it accepts may do everything,
// so writes are refused only when a token is needed and missing or refused.
export function can() {
  if (session.refused) return { ok: false, reason: `the server refused the token: ${session.refused}` };
  if (session.required && !session.token) return { ok: false, reason: 'this server needs a token: sign in first' };
  return { ok: true, reason: '' };
}
