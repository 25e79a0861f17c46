// The API client: same-origin fetches signed in by the HttpOnly session cookie. The token is
// never visible to this code. State-changing requests carry the console's CSRF header.

export const CSRF_HEADER = 'X-Citybrain-Console';

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === 'string' ? detail : describe(detail) || `HTTP ${status}`);
    this.status = status;
    this.detail = detail;
  }
}

function describe(detail) {
  if (!Array.isArray(detail)) return '';
  return detail.map((e) => `${(e.loc || []).join('.')}: ${e.msg}`).join('; ');
}

let onUnauthorised = () => {};

/** Called when the server answers 401 (the session ended): the console shows the sign-in. */
export function setUnauthorisedHandler(handler) {
  onUnauthorised = handler;
}

/** `path` with `query` appended; arrays repeat the parameter, empty values are left out. */
export function withQuery(path, query = {}) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) {
      if (v !== null && v !== undefined && v !== '') params.append(key, String(v));
    }
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** Call the API; resolves to the JSON answer (null for 204), rejects with an ApiError. */
export async function api(path, { method = 'GET', body, query, signal } = {}) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') headers[CSRF_HEADER] = '1';
  const init = { method, headers, credentials: 'same-origin', signal };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(withQuery(path, query), init);
  if (!response.ok) {
    let detail = `HTTP ${response.status}`;
    try {
      detail = (await response.json()).detail ?? detail;
    } catch {
      // not JSON: keep the status line
    }
    if (response.status === 401 && !path.startsWith('/api/session')) onUnauthorised();
    throw new ApiError(response.status, detail);
  }
  return response.status === 204 ? null : response.json();
}

/** Every visible camera, by name. */
export async function listCameras() {
  return (await api('/api/cameras')).items;
}
