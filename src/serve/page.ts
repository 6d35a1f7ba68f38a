// The web page (plain HTML/CSS/JS in ./page, no build step), read once at start and served with a
// strict Content-Security-Policy: the page loads nothing from anywhere but this server.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/markdown.js': { file: 'markdown.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

export const PAGE_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-cache',
};

/** ./page next to this module (src/ when run from source), or src/serve/page when running from dist/. */
export function findPageDir(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'page'), resolve(here, '../../src/serve/page')];
  return candidates.find((d) => existsSync(join(d, 'index.html')));
}

export interface PageAssets {
  get(path: string): { body: string; type: string } | undefined;
}

export function loadPage(dir = findPageDir()): PageAssets {
  const cache = new Map<string, { body: string; type: string }>();
  if (dir) {
    for (const [route, { file, type }] of Object.entries(FILES)) {
      cache.set(route, { body: readFileSync(join(dir, file), 'utf8'), type });
    }
  }
  return { get: (path) => cache.get(path) };
}
