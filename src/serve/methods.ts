// 405 Method Not Allowed (with an Allow header) for a known route asked with another method,
// instead of a 404 that suggests the route does not exist.
import type { Hono } from 'hono';
import { ApiError } from './errors.js';

/** Registers, after the real handlers, a 405 for every other method on each route. */
export function refuseOtherMethods(app: Hono, routes: Record<string, readonly string[]>): void {
  for (const [path, methods] of Object.entries(routes)) {
    const allow = [...methods, ...(methods.includes('GET') ? ['HEAD'] : []), 'OPTIONS'].join(', ');
    app.all(path, (c, next) => {
      if (methods.includes(c.req.method) || (c.req.method === 'HEAD' && methods.includes('GET'))) return next();
      if (c.req.method === 'OPTIONS') return c.body(null, 204, { Allow: allow });
      throw new ApiError(405, `${c.req.method} is not allowed on ${path}; use ${methods.join(' or ')}`, 'method_not_allowed', null, 'invalid_request_error', { Allow: allow });
    });
  }
}
