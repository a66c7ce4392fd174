// A small client of the management API (/admin/v1/ on the query Worker) for e2e tests. With a
// ResponseChecker, every answer is checked against openapi/query.json.
import { QUERY } from './stack.mjs';

export class AdminClient {
  constructor(stack, token, checker) {
    this.stack = stack;
    this.token = token;
    this.checker = checker;
  }

  as(token) {
    return new AdminClient(this.stack, token, this.checker);
  }

  /** `route` is the documented path (e.g. /admin/v1/apps/{app}) when it differs from `path`. */
  async call(method, path, { body, headers = {}, route } = {}) {
    const res = await this.stack.fetch(`${QUERY}/admin/v1${path}`, {
      method,
      headers: {
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    if (this.checker) this.checker.check(route ?? documented(`/admin/v1${path.split('?')[0]}`), method.toLowerCase(), res);
    return res;
  }

  get(path, opts) { return this.call('GET', path, opts); }
  post(path, body, opts = {}) { return this.call('POST', path, { ...opts, body }); }
  patch(path, body, opts = {}) { return this.call('PATCH', path, { ...opts, body }); }
  delete(path, opts) { return this.call('DELETE', path, opts); }
  put(path, body, opts = {}) { return this.call('PUT', path, { ...opts, body }); }
}

/** The OpenAPI path template of a concrete management path. */
export function documented(path) {
  const parts = path.split('/');
  // ['', 'admin', 'v1', 'apps', app, resource, id, action]
  if (parts[3] !== 'apps' || parts.length < 5) return path;
  parts[4] = '{app}';
  if (parts.length >= 7) {
    const name = { keys: '{key}', links: '{link}', postbacks: '{network}', 'link-hosts': '{host}' }[parts[5]];
    if (name) parts[6] = name;
  }
  return parts.join('/');
}
