// The UI's one door to kiseki's native JSON API (`/api/kiseki/v1`): requests, the API's error
// shape turned into an `ApiError` that names the parameter at fault, and short-lived caches for
// the lists that feed pickers and autocomplete.

export const API_BASE = '/api/kiseki/v1';

/** A refused or failed request: the HTTP status, the API's message and, for a 400, the parameter. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    const named = /^parameter "([^"]+)"/.exec(message);
    this.parameter = named ? named[1] : null;
  }
}

/** GET `path` (under the API base) with query parameters from a URLSearchParams or object. */
export async function getJson(path, params, { signal } = {}) {
  let url = API_BASE + path;
  const query = params instanceof URLSearchParams ? params : new URLSearchParams(params ?? {});
  const text = query.toString();
  if (text) url += `?${text}`;
  let response;
  try {
    response = await fetch(url, { headers: { Accept: 'application/json' }, signal });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, `kiseki did not answer (${error.message || 'network error'})`);
  }
  let body = null;
  const type = response.headers.get('content-type') || '';
  if (type.includes('json')) {
    try {
      body = await response.json();
    } catch {
      body = null;
    }
  } else {
    body = { text: (await response.text()).trim() };
  }
  if (!response.ok) {
    const message = body?.error?.message || body?.text || `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, message);
  }
  if (body === null || body.text !== undefined) {
    throw new ApiError(response.status, 'the answer is not JSON');
  }
  return body;
}

const CACHE_MS = 30_000;
const cache = new Map();

/** A cached GET for lists that change slowly (services, attribute keys and values). */
function cached(key, load) {
  const hit = cache.get(key);
  if (hit && Date.now() - hit.at < CACHE_MS) return hit.promise;
  const promise = load();
  cache.set(key, { at: Date.now(), promise });
  promise.catch(() => cache.delete(key));
  return promise;
}

/** `[{name, operations: [{name, kind}]}]`, sorted by name. */
export function services() {
  return cached('services', async () => (await getJson('/services')).services ?? []);
}

/** The attribute keys seen, for autocomplete. */
export function attributeKeys() {
  return cached('keys', async () => (await getJson('/attributes/keys')).keys ?? []);
}

/** Values seen for one attribute key, for autocomplete. */
export function attributeValues(key, limit = 50) {
  return cached(`values:${key}`, async () =>
    (await getJson('/attributes/values', { key, limit })).values ?? []);
}

/** `{traces: [TraceSummary], limit}` for the search parameters, as the URL holds them. */
export function search(params, options) {
  return getJson('/search', params, options);
}

/** One trace with its spans, adjustments and warnings. */
export function trace(traceId, options) {
  return getJson(`/traces/${encodeURIComponent(traceId)}`, null, options);
}

/** Where the stored spans of a trace download as OTLP JSON. */
export function rawTraceUrl(traceId) {
  return `${API_BASE}/traces/${encodeURIComponent(traceId)}/raw`;
}
