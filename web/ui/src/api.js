// The JSON API client. The bearer token (for POSTs when the server is bound
// beyond loopback) comes from ?token= once and is kept in localStorage.

const TOKEN_KEY = 'ctflow.token';

export function captureToken() {
  const url = new URL(window.location.href);
  const t = url.searchParams.get('token');
  if (t) {
    localStorage.setItem(TOKEN_KEY, t);
    url.searchParams.delete('token');
    history.replaceState(null, '', url.pathname + url.search + url.hash);
  }
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function parse(res) {
  let body = null;
  try { body = await res.json(); } catch (e) { body = null; }
  if (!res.ok) throw new ApiError(res.status, (body && body.error) || `HTTP ${res.status}`);
  return body;
}

export async function get(path) {
  return parse(await fetch(`/api/v1${path}`, { headers: { Accept: 'application/json' } }));
}

export async function post(path, body) {
  const headers = { 'Content-Type': 'application/json' };
  const t = localStorage.getItem(TOKEN_KEY);
  if (t) headers.Authorization = `Bearer ${t}`;
  return parse(await fetch(`/api/v1${path}`, { method: 'POST', headers, body: JSON.stringify(body || {}) }));
}

export function enc(s) { return encodeURIComponent(s); }

// Server-sent events with a status dot; returns a function that closes it.
export function events(query, handlers) {
  const es = new EventSource(`/api/v1/events${query}`);
  const dot = document.getElementById('live');
  es.onopen = () => dot && dot.classList.add('on');
  es.onerror = () => dot && dot.classList.remove('on');
  for (const [name, fn] of Object.entries(handlers)) {
    es.addEventListener(name, (e) => {
      let data = null;
      try { data = JSON.parse(e.data); } catch (err) { return; }
      fn(data);
    });
  }
  return () => { es.close(); if (dot) dot.classList.remove('on'); };
}
