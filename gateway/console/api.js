// Calls to the gateway's own HTTP API, with the signed-in credentials, and errors
// turned into readable messages.

const STORE_KEY = "silt.console.authorization";

export class ApiError extends Error {
  constructor(status, body) {
    const code = body && (body.error_code || (body.error && body.error.type));
    const text = body && (body.message || (body.error && body.error.message));
    super(text ? `${text}${code ? ` (${code}, HTTP ${status})` : ""}` : `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

export function authorization() {
  return sessionStorage.getItem(STORE_KEY);
}

export function signIn(value) {
  sessionStorage.setItem(STORE_KEY, value);
}

export function signOut() {
  sessionStorage.removeItem(STORE_KEY);
}

let onUnauthenticated = () => {};

/** Sets what happens when the gateway answers 401 (the console asks to sign in). */
export function whenUnauthenticated(callback) {
  onUnauthenticated = callback;
}

function headers(extra) {
  const all = { ...extra };
  const value = authorization();
  if (value) all.Authorization = value;
  return all;
}

/** A JSON request; resolves with the parsed body, rejects with an ApiError. */
export async function call(method, path, body) {
  const init = { method, headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }) };
  if (body !== undefined) init.body = JSON.stringify(body);
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(0, { message: `the gateway did not answer: ${error.message}` });
  }
  const text = await response.text();
  let parsed = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = { message: text };
    }
  }
  if (response.status === 401) onUnauthenticated();
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

export const get = (path) => call("GET", path);
export const post = (path, body) => call("POST", path, body === undefined ? {} : body);
export const del = (path) => call("DELETE", path);

/**
 * Follows a server-sent event stream with the credentials (EventSource cannot send
 * them). Calls `onEvent(data, id)` per event; answers a function that stops it.
 */
export function follow(path, onEvent, onError) {
  const controller = new AbortController();
  (async () => {
    const response = await fetch(path, { headers: headers({ Accept: "text/event-stream" }), signal: controller.signal });
    if (!response.ok) {
      let body = null;
      try { body = await response.json(); } catch { body = null; }
      throw new ApiError(response.status, body);
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let data = "";
        let id = null;
        let event = "message";
        for (const line of block.split("\n")) {
          if (line.startsWith("data:")) data += line.slice(5).trimStart();
          else if (line.startsWith("id:")) id = line.slice(3).trim();
          else if (line.startsWith("event:")) event = line.slice(6).trim();
        }
        if (data && event === "record") onEvent(JSON.parse(data), id);
      }
    }
  })().catch((error) => {
    if (error.name !== "AbortError") onError(error);
  });
  return () => controller.abort();
}
