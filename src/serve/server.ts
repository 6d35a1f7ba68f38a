// `tsvlm serve`'s HTTP app: OpenAI-compatible routes over the ChatModel / EmbeddingModel
// interfaces (no model-specific branches), the web page at /, auth, CORS, limits, shutdown.
import { createHash, timingSafeEqual } from 'node:crypto';
import { realpathSync, statSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import { cors } from 'hono/cors';
import type { Model } from '../api.js';
import { handleChat } from './chat.js';
import { ServeContext } from './context.js';
import { handleClassify, handleEmbeddings } from './embeddings.js';
import { handleImageDetokenize, handleImageTokenize } from './tokenize.js';
import { handleImageGenerations, handleSeedGenerate } from './draw.js';
import { ApiError, toApiError } from './errors.js';
import { type Limits, resolveLimits } from './limits.js';
import { applyConnectionLimits, httpServerOptions } from './connections.js';
import { requestGuard } from './guard.js';
import { PAGE_HEADERS, loadPage } from './page.js';
import { refuseOtherMethods } from './methods.js';
import { handleCompletions } from './completions.js';

export interface ServerOptions {
  /** `loadedAt` (default: now) is reported as `created` by /v1/models. */
  models: Array<{ name: string; model: Model; loadedAt?: Date }>;
  /** When set, /v1/* requires `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  maxBodyBytes?: number;
  maxImagePixels?: number;
  maxImagesPerRequest?: number;
  maxTokensCap?: number;
  queueSize?: number;
  /** Other limits (see limits.ts). */
  limits?: Partial<Limits>;
  /** Folder whose files may be sent as file:// image URLs. Off when undefined. */
  localImageDir?: string;
  /** Origins allowed to call /v1/* from a browser (e.g. "http://localhost:3000", or "*"). Off when undefined. */
  cors?: string | string[];
  /** Host names served besides IP literals, localhost and the bound name (guard.ts; "*" = any). */
  allowedHosts?: string[];
  /** How long close() lets aborted generations wind down before dropping connections (ms). */
  shutdownGraceMs?: number;
  /** Access log: one line per request. */
  log?: (line: string) => void;
}

export interface ListenInfo {
  host: string;
  port: number;
  url: string;
}

export interface TsvlmServer {
  app: Hono;
  listen(host?: string, port?: number): Promise<ListenInfo>;
  /** Stops accepting, aborts in-flight generations, fails queued requests (503), closes connections. */
  close(): Promise<void>;
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function errorResponse(c: Context, err: ApiError): Response {
  for (const [k, v] of Object.entries(err.headers)) c.header(k, v);
  if (err.status === 401) c.header('WWW-Authenticate', 'Bearer');
  return c.json(err.body(), err.status as 400);
}

function resolveImageDir(dir: string | undefined): string | undefined {
  if (dir === undefined) return undefined;
  let real: string;
  try {
    real = realpathSync(dir);
  } catch {
    throw new Error(`--image-dir ${dir}: no such folder`);
  }
  if (!statSync(real).isDirectory()) throw new Error(`--image-dir ${dir}: not a folder`);
  return real;
}

export function createServer(opts: ServerOptions): TsvlmServer {
  const limits = resolveLimits({
    ...opts.limits,
    maxBodyBytes: opts.maxBodyBytes ?? opts.limits?.maxBodyBytes,
    maxImagePixels: opts.maxImagePixels ?? opts.limits?.maxImagePixels,
    maxImagesPerRequest: opts.maxImagesPerRequest ?? opts.limits?.maxImagesPerRequest,
    maxTokensCap: opts.maxTokensCap ?? opts.limits?.maxTokensCap,
    queueSize: opts.queueSize ?? opts.limits?.queueSize,
  });
  const ctx = new ServeContext(
    limits,
    { maxPixels: limits.maxImagePixels, maxBytes: limits.maxBodyBytes, localImageDir: resolveImageDir(opts.localImageDir) },
    opts.models,
  );
  const page = loadPage();
  const keyHash = opts.apiKey ? sha256(opts.apiKey) : undefined;
  const app = new Hono();

  app.onError((err, c) => {
    const e = toApiError(err);
    if (e.status >= 500 && e.code !== 'shutting_down') console.error(`tsvlm serve: ${c.req.method} ${c.req.path} failed:`, err);
    return errorResponse(c, e);
  });
  app.notFound((c) => errorResponse(c, new ApiError(404, `no route ${c.req.method} ${c.req.path}`, 'unknown_route')));

  if (opts.log) {
    const log = opts.log;
    app.use('*', async (c, next) => {
      const t0 = performance.now();
      await next();
      log(`${c.req.method} ${c.req.path} ${c.res.status} ${Math.round(performance.now() - t0)}ms`);
    });
  }

  let boundHost: string | undefined;
  app.use('*', requestGuard({ allowedHosts: opts.allowedHosts, cors: opts.cors, boundHost: () => boundHost }));

  if (opts.cors !== undefined) {
    app.use(
      '/v1/*',
      cors({
        origin: opts.cors,
        allowMethods: ['GET', 'POST', 'OPTIONS'],
        allowHeaders: ['Authorization', 'Content-Type'],
        exposeHeaders: ['Retry-After'],
        maxAge: 600,
      }),
    );
  }

  app.use('/v1/*', async (c, next) => {
    if (!keyHash) return next();
    const header = c.req.header('authorization') ?? '';
    const m = /^Bearer\s+(.+)$/i.exec(header);
    if (!m) throw new ApiError(401, 'Missing API key: send the header "Authorization: Bearer YOUR_KEY"', 'invalid_api_key');
    // Compare digests, so the time taken does not depend on the key's length or content.
    if (!timingSafeEqual(sha256(m[1]!.trim()), keyHash)) {
      throw new ApiError(401, 'Incorrect API key provided', 'invalid_api_key');
    }
    return next();
  });

  const modelCard = (name: string) => {
    const { model, queue, created } = ctx.lookup(name);
    return {
      id: name,
      object: 'model' as const,
      created,
      owned_by: 'tsvlm',
      // Extensions: what the page needs to pick a view and set limits.
      kind: model.kind,
      model_type: model.info.modelType,
      context_length: model.info.contextLength ?? null,
      ...(model.kind === 'embedding' ? { dimensions: model.dimensions, example_labels: model.exampleLabels ?? null } : {}),
      // vision: whether the model reads images (max_images 0: text only).
      ...(model.kind === 'chat' ? { vision: model.maxImages !== 0, max_images: Math.min(limits.maxImagesPerRequest, model.maxImages ?? Infinity), draws_images: model.drawsImages === true, renders_images: model.rendersImages === true } : {}),
      ...(model.kind === 'image-tokenizer' ? { codes_per_image: model.codesPerImage, codebook_size: model.codebookSize, embedding_shape: model.embeddingShape } : {}),
      busy: queue.busy,
      waiting: queue.waitingCount,
    };
  };

  app.get('/v1/models', (c) => c.json({ object: 'list', data: [...ctx.models.keys()].map(modelCard) }));
  app.get('/v1/models/:id{.+}', (c) => c.json(modelCard(c.req.param('id'))));
  app.post('/v1/chat/completions', (c) => handleChat(c.req.raw, ctx));
  app.post('/v1/embeddings', (c) => handleEmbeddings(c.req.raw, ctx));
  app.post('/v1/classify', (c) => handleClassify(c.req.raw, ctx));
  app.post('/v1/images/tokenize', (c) => handleImageTokenize(c.req.raw, ctx));
  app.post('/v1/images/detokenize', (c) => handleImageDetokenize(c.req.raw, ctx));
  app.post('/v1/completions', (c) => handleCompletions(c.req.raw, ctx));
  app.post('/v1/images/generations', (c) => handleImageGenerations(c.req.raw, ctx));
  app.post('/generate', (c) => handleSeedGenerate(c.req.raw, ctx));

  app.get('/health', (c) =>
    c.json(
      {
        status: ctx.closing ? 'shutting_down' : 'ok',
        auth: keyHash !== undefined,
        models: [...ctx.models.keys()].map(modelCard),
        limits: {
          max_body_bytes: limits.maxBodyBytes,
          max_image_pixels: limits.maxImagePixels,
          max_images_per_request: limits.maxImagesPerRequest,
          max_tokens_cap: limits.maxTokensCap,
          default_max_tokens: limits.defaultMaxTokens,
          queue_size: limits.queueSize,
        },
      },
      ctx.closing ? 503 : 200,
    ),
  );

  refuseOtherMethods(app, { '/v1/models': ['GET'], '/v1/chat/completions': ['POST'], '/v1/embeddings': ['POST'], '/v1/classify': ['POST'], '/v1/completions': ['POST'], '/health': ['GET'] });

  app.get('*', (c, next) => {
    const asset = page.get(c.req.path);
    if (!asset) {
      if (c.req.path === '/') return c.text('tsvlm serve: the web page files (src/serve/page) were not found; the API under /v1 works.', 404);
      return next();
    }
    for (const [k, v] of Object.entries(PAGE_HEADERS)) c.header(k, v);
    return c.body(asset.body, 200, { 'Content-Type': asset.type });
  });

  let server: Server | undefined;
  const grace = opts.shutdownGraceMs ?? 5000;

  return {
    app,
    listen(host = '127.0.0.1', port = 8080) {
      if (server) return Promise.reject(new Error('tsvlm serve: listen() was already called'));
      boundHost = host;
      return new Promise<ListenInfo>((resolve, reject) => {
        const s = serve({ fetch: app.fetch, hostname: host, port, overrideGlobalObjects: false, serverOptions: httpServerOptions(limits) }) as Server;
        applyConnectionLimits(s, limits);
        server = s;
        s.once('error', (err: NodeJS.ErrnoException) => {
          server = undefined;
          const why = err.code === 'EADDRINUSE' ? `port ${port} is in use (pick another with --port)` : err.message;
          reject(new Error(`tsvlm serve: cannot listen on ${host}:${port}: ${why}`));
        });
        s.once('listening', () => {
          const addr = s.address() as AddressInfo;
          const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
          resolve({ host: addr.address, port: addr.port, url: `http://${shown}:${addr.port}` });
        });
      });
    },
    async close() {
      const s = server;
      const closed = s ? new Promise<void>((r) => s.close(() => r())) : Promise.resolve();
      await ctx.shutdown(grace);
      if (s) {
        s.closeIdleConnections();
        // Connections still open after the grace period (a stuck client) are dropped.
        const timer = setTimeout(() => s.closeAllConnections(), 1000);
        timer.unref();
        const poll = setInterval(() => s.closeIdleConnections(), 50);
        await closed;
        clearTimeout(timer);
        clearInterval(poll);
      }
    },
  };
}
