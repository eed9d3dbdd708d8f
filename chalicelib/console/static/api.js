// api.js — the console's HTTP client for the agent API (same origin, base "/api").
//   await api.get("/conversations", {view: "mine"}); await api.post("/conversations/x/reply", {text})
// Answers parsed JSON, or throws ApiError {status, code, message, body}. The bearer token (Cognito
// ID token) lives in sessionStorage "omniflow.token"; a 401 clears it and calls the handler set
// with onUnauthorized (app.js: back to the login screen).

export const BASE = "/api";
export const TOKEN_KEY = "omniflow.token";

export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message || code || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

let unauthorized = () => {
  sessionStorage.removeItem(TOKEN_KEY);
  location.hash = "#/login";
  location.reload();
};

export function onUnauthorized(handler) {
  unauthorized = handler;
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function url(path, params) {
  const u = new URL(BASE + path, location.origin);
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== "") u.searchParams.set(k, String(v));
  }
  return u.pathname + u.search;
}

export async function request(method, path, { params, body, auth = true } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const tok = token();
  if (auth && tok) headers.Authorization = `Bearer ${tok}`;
  let response;
  try {
    response = await fetch(url(path, params), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (err) {
    throw new ApiError(0, "network", String(err && err.message ? err.message : err), null);
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = { message: text }; }
  }
  if (!response.ok) {
    const err = new ApiError(
      response.status,
      (data && data.error) || `http_${response.status}`,
      (data && data.message) || response.statusText,
      data,
    );
    if (response.status === 401 && auth && tok) {
      setToken(null);
      unauthorized(err);
    }
    throw err;
  }
  return data;
}

export const api = {
  get: (path, params) => request("GET", path, { params }),
  post: (path, body = {}) => request("POST", path, { body }),
  put: (path, body = {}) => request("PUT", path, { body }),
  patch: (path, body = {}) => request("PATCH", path, { body }),
  del: (path, params) => request("DELETE", path, { params }),
};
