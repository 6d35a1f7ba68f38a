// Lines `tsvlm serve` prints: "tsvlm serve: …" once per line for people, or with --json one JSON
// object per line ({time, level, msg, …fields}) for log collectors.
import { createServer } from 'node:net';

export interface ServeLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** One request: "METHOD PATH STATUS 12ms" from the server's access log. */
  access(line: string): void;
}

const PREFIX = 'tsvlm serve: ';

export function serveLog(json: boolean, out: (line: string) => void, err: (line: string) => void): ServeLog {
  // Messages from deeper layers may already carry the prefix; it is printed once.
  const bare = (m: string) => (m.startsWith(PREFIX) ? m.slice(PREFIX.length) : m);
  const emit = (level: 'info' | 'error', msg: string, fields?: Record<string, unknown>) => {
    if (json) (level === 'error' ? err : out)(JSON.stringify({ time: new Date().toISOString(), level, msg: bare(msg), ...fields }));
    else (level === 'error' ? err : out)(PREFIX + bare(msg));
  };
  return {
    info: (m, f) => emit('info', m, f),
    error: (m, f) => emit('error', m, f),
    access(line) {
      if (!json) return out(line);
      const m = /^(\S+) (\S+) (\d+) (\d+)ms$/.exec(line);
      emit('info', line, m ? { type: 'access', method: m[1], path: m[2], status: Number(m[3]), ms: Number(m[4]) } : { type: 'access' });
    },
  };
}

/**
 * Fails when HOST:PORT cannot be bound, so that `serve` says so before spending minutes loading
 * models. Port 0 (any free port) always passes.
 */
export async function checkPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const s = createServer();
    s.once('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'EADDRINUSE' ? `port ${port} is in use (pick another with --port)` : e.code === 'EACCES' ? `no permission to use port ${port}` : e.message;
      reject(new Error(`cannot listen on ${host}:${port}: ${why}`));
    });
    s.listen({ host, port, exclusive: true }, () => s.close(() => resolve()));
  });
}
