// @ts-check
/**
 * The page's way to the control API (/sim/v1): the token, and requests whose failures become
 * errors with the server's own words (the problem JSON's message, code and hint).
 *
 * The token: the ready line's dashboard URL carries it in the fragment (`/#token=...`), which
 * browsers never send to a server. The page keeps it in sessionStorage (this tab only, gone
 * when the tab closes) and removes it from the address bar at once, so it is not left in the
 * history, a bookmark or a screenshot. Without one the page asks for it.
 */

const TOKEN_KEY = 'mdmsim.apiToken';

/** The token from the address bar (kept, then removed from it) or from this tab's session. */
export function takeToken() {
  const params = new URLSearchParams(location.hash.slice(1));
  const fromUrl = params.get('token');
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    params.delete('token');
    const rest = params.toString();
    history.replaceState(null, '', `${location.pathname}${location.search}${rest ? `#${rest}` : ''}`);
  }
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

/** @param {string} token */
export function keepToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status (0: the server could not be reached)
   * @param {string} code
   * @param {string} message
   * @param {string} [hint]
   */
  constructor(status, code, message, hint) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.hint = hint;
  }
}

export class Api {
  /**
   * @param {string} token
   * @param {{ onUnauthorized?: (error: ApiError) => void }} [options]
   */
  constructor(token, options = {}) {
    this.token = token;
    this.onUnauthorized = options.onUnauthorized;
  }

  /**
   * @param {string} method
   * @param {string} path under /sim/v1
   * @param {unknown} [body] sent as JSON
   * @param {{ timeoutMs?: number }} [options] default 30 s; 0 for none (a long clock advance)
   * @returns {Promise<any>}
   */
  async request(method, path, body, options = {}) {
    const timeoutMs = options.timeoutMs ?? 30_000;
    /** @type {Response} */
    let res;
    try {
      res = await fetch(`/sim/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
        signal: timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined,
      });
    } catch (error) {
      const e = /** @type {Error} */ (error);
      if (e.name === 'TimeoutError') {
        throw new ApiError(0, 'timeout', `${method} ${path}: the server did not answer within ${timeoutMs / 1000} s`, 'it may be busy playing a long stretch of time; the page keeps listening');
      }
      throw new ApiError(0, 'unreachable', `cannot reach the mdmsim server (${method} ${path}: ${e.message})`, 'is it still running? The page retries on its own.');
    }
    const text = await res.text().catch(() => '');
    /** @type {any} */
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const problem = json && typeof json === 'object' ? json.error : undefined;
      const error = new ApiError(
        res.status,
        typeof problem?.code === 'string' ? problem.code : `http-${res.status}`,
        typeof problem?.message === 'string' ? problem.message : `${method} ${path} answered ${res.status} ${res.statusText}${text && !json ? `: ${text.slice(0, 200)}` : ''}`,
        typeof problem?.hint === 'string' ? problem.hint : undefined,
      );
      if (res.status === 401) this.onUnauthorized?.(error);
      throw error;
    }
    return json;
  }

  /** @param {string} path */
  get(path) {
    return this.request('GET', path);
  }

  /**
   * @param {string} path
   * @param {unknown} [body]
   * @param {{ timeoutMs?: number }} [options]
   */
  post(path, body, options) {
    return this.request('POST', path, body, options);
  }
}
