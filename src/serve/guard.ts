// Browser-facing defences that run before any route: DNS rebinding (Host allow-list), cross-site
// form posts (JSON content type on POST bodies) and cross-origin calls (Origin check).
//
// - Host: a web page can rebind its own name to 127.0.0.1 and then read this API from the
//   victim's browser; the Host header still carries the page's name. Allowed: IP literals (an
//   address cannot be rebound), "localhost" and "*.localhost", the name the server is bound to,
//   and `allowedHosts` (exact names, ".example.com" for a domain and its subdomains, "*" for any).
// - POST bodies must be application/json: a cross-site <form> or a "simple" fetch can only send
//   text/plain, form or multipart bodies without a CORS preflight. (A POST without a body passes:
//   it can start nothing, and the routes answer it themselves, e.g. 405.)
// - Origin: a browser request from another origin is refused unless CORS allows that origin.
import { isIP } from 'node:net';
import type { MiddlewareHandler } from 'hono';
import { ApiError } from './errors.js';

export interface GuardOptions {
  /** Extra Host names (see above). */
  allowedHosts?: string[];
  /** The CORS origins ("*" = any), when CORS is on. */
  cors?: string | string[];
  /** The address or name the server is bound to (set by listen()). */
  boundHost?: () => string | undefined;
}

/** The host part of a Host header or URL authority: "[::1]:8080" → "::1", "Example.com:80" → "example.com". */
export function hostName(authority: string): string {
  const a = authority.trim().toLowerCase();
  if (a.startsWith('[')) return a.slice(1, a.indexOf(']') > 0 ? a.indexOf(']') : undefined);
  const colon = a.indexOf(':');
  // More than one colon without brackets: a bare IPv6 address.
  if (colon >= 0 && a.indexOf(':', colon + 1) < 0) return a.slice(0, colon);
  return a.replace(/\.$/, '');
}

export function hostAllowed(host: string, allowed: readonly string[], bound: string | undefined): boolean {
  if (!host) return false;
  if (isIP(host)) return true;
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (bound && !isIP(bound) && host === hostName(bound)) return true;
  for (const a of allowed) {
    const p = a.trim().toLowerCase();
    if (p === '*' || p === host) return true;
    if (p.startsWith('.') && (host === p.slice(1) || host.endsWith(p))) return true;
  }
  return false;
}

function isJson(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const mime = contentType.split(';')[0]!.trim().toLowerCase();
  return mime === 'application/json' || (mime.startsWith('application/') && mime.endsWith('+json'));
}

export function requestGuard(opts: GuardOptions): MiddlewareHandler {
  const allowed = opts.allowedHosts ?? [];
  const corsList = opts.cors === undefined ? [] : Array.isArray(opts.cors) ? opts.cors : [opts.cors];
  return async (c, next) => {
    const authority = c.req.header('host') ?? new URL(c.req.url).host;
    const host = hostName(authority);
    if (!hostAllowed(host, allowed, opts.boundHost?.())) {
      throw new ApiError(
        403,
        `Host "${authority.slice(0, 200)}" is not allowed (a DNS-rebinding defence); start the server with --allowed-hosts ${host.slice(0, 100) || 'NAME'} to serve it under that name`,
        'host_not_allowed',
      );
    }
    const origin = c.req.header('origin');
    if (origin !== undefined) {
      let same = false;
      try {
        same = new URL(origin).host.toLowerCase() === authority.trim().toLowerCase();
      } catch {
        same = false; // "null" (sandboxed frames, file://) or garbage
      }
      if (!same && !corsList.includes('*') && !corsList.includes(origin)) {
        throw new ApiError(403, `Origin "${origin.slice(0, 200)}" is not allowed; start the server with --cors ${origin.slice(0, 200)} to allow browser calls from it`, 'origin_not_allowed');
      }
    }
    // A body-less POST can start nothing (routes answer 400/405 on their own).
    const hasBody = (c.req.header('content-length') ?? '0') !== '0' || c.req.header('transfer-encoding') !== undefined;
    if (c.req.method === 'POST' && hasBody && !isJson(c.req.header('content-type'))) {
      throw new ApiError(415, 'POST bodies must be sent with "Content-Type: application/json"', 'unsupported_media_type');
    }
    return next();
  };
}
