// A Hugging Face Hub on loopback for download tests: the API routes @huggingface/hub calls
// (model info, recursive tree) and /resolve/ file downloads with HTTP Range, an optional token,
// and a switch that cuts a download short (to test resuming). No test touches the internet.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';

export interface FakeRepo {
  commit: string;
  /** path in the repo → bytes */
  files: Record<string, Uint8Array>;
}

export interface HubRequest {
  method: string;
  url: string;
  auth?: string;
  range?: string;
}

export class FakeHub {
  readonly requests: HubRequest[] = [];
  /** When set, the next download of a file stops after this many bytes (the connection drops). */
  cutAfter?: number;
  token?: string;
  private server?: Server;
  url = '';

  constructor(readonly repos: Record<string, FakeRepo>) {}

  /** A repo from files on disk. */
  static repoFrom(commit: string, files: Record<string, string>): FakeRepo {
    return { commit, files: Object.fromEntries(Object.entries(files).map(([p, f]) => [p, new Uint8Array(readFileSync(f))])) };
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const u = new URL(req.url!, 'http://x');
      this.requests.push({ method: req.method!, url: req.url!, ...(req.headers.authorization ? { auth: req.headers.authorization } : {}), ...(req.headers.range ? { range: req.headers.range } : {}) });
      if (this.token && req.headers.authorization !== `Bearer ${this.token}`) {
        res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'Invalid credentials' }));
        return;
      }
      const json = (v: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(v));
      const notFound = () => res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'Repository not found' }));
      let m = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(u.pathname);
      if (m) {
        const repo = this.repos[m[1]!];
        if (!repo) return notFound();
        return json({ _id: 'x', id: m[1], sha: repo.commit, private: false, siblings: Object.keys(repo.files).map((rfilename) => ({ rfilename })), lastModified: '2026-01-01T00:00:00.000Z' });
      }
      m = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)$/.exec(u.pathname);
      if (m) {
        const repo = this.repos[m[1]!];
        if (!repo || decodeURIComponent(m[2]!) !== repo.commit) return notFound();
        return json(Object.entries(repo.files).map(([path, bytes]) => {
          const lfs = path.endsWith('.safetensors');
          const oid = createHash('sha1').update(bytes).digest('hex');
          return { type: 'file', path, size: lfs ? 135 : bytes.length, oid, ...(lfs ? { lfs: { oid: createHash('sha256').update(bytes).digest('hex'), size: bytes.length, pointerSize: 135 } } : {}) };
        }));
      }
      m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(u.pathname);
      if (m) {
        const repo = this.repos[m[1]!];
        const bytes = repo && decodeURIComponent(m[2]!) === repo.commit ? repo.files[decodeURIComponent(m[3]!)] : undefined;
        if (!bytes) return notFound();
        const r = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
        const start = r ? Number(r[1]) : 0;
        const body = Buffer.from(bytes.subarray(start));
        res.writeHead(r ? 206 : 200, { 'content-length': body.length, 'content-type': 'application/octet-stream', ...(r ? { 'content-range': `bytes ${start}-${bytes.length - 1}/${bytes.length}` } : {}) });
        if (this.cutAfter !== undefined && body.length > this.cutAfter) {
          const n = this.cutAfter;
          this.cutAfter = undefined;
          // Half-close after the bytes are flushed: the client gets exactly n bytes, then EOF (a
          // destroy() could drop bytes still in flight on a loaded machine).
          res.write(body.subarray(0, n), () => res.socket?.end());
          return;
        }
        return res.end(body);
      }
      notFound();
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    const a = this.server.address() as { port: number };
    this.url = `http://127.0.0.1:${a.port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
