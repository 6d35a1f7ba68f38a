// `tsvlm serve`: parse flags, load the models (through the injected `load`, so this module does not
// import the engine), listen (loopback unless told), and shut down cleanly on SIGINT/SIGTERM.
import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { isRepoId } from '../hub/cache.js';
import type { LoadOptions, Model } from '../api.js';
import { DEFAULT_LIMITS, type Limits } from './limits.js';
import { createServer, type ListenInfo, type TsvlmServer } from './server.js';
import { checkPortFree, serveLog } from './log.js';

export const SERVE_USAGE = `Usage: tsvlm serve --model DIR [--model NAME=DIR]... [options]

Serves models over an OpenAI-compatible HTTP API (/v1/chat/completions, /v1/embeddings,
/v1/models, /v1/classify) with a web chat page at /.

Options:
  --model DIR | NAME=DIR   model folder (config.json + safetensors), built-in name or Hugging Face repo id
                           (ORG/NAME, from its cache); repeatable. NAME defaults to the folder name
  --host HOST              address to bind (default 127.0.0.1; use 0.0.0.0 to expose on the network)
  --port PORT              port (default 8080; 0 picks a free one)
  --api-key KEY            require "Authorization: Bearer KEY" on /v1 (or set TSVLM_API_KEY)
  --image-dir DIR          allow file:// image URLs for files inside DIR
  --cors ORIGIN            allow browser calls from ORIGIN (repeatable; "*" for any)
  --allowed-hosts LIST     Host names to serve besides IP addresses, localhost and the --host name
                           (comma-separated; ".example.com" for a domain; "*" for any)
  --device cpu|webgpu|auto where the models run (default cpu; auto: WebGPU when it has an adapter)
  --json                   log JSON lines ({time, level, msg, ...}) instead of text
  --dtype fp32|fp16|q8|q4  weights at run time (q8/q4: int8/int4 blocks, converted once and cached; default by size: fp32 ≤ 1.5 G parameters, q8 ≤ 3 G, q4 above)
  --attention gqa|ops      decoder attention on CPU: fused GroupQueryAttention (default) or plain ONNX ops
  --quant-block 32|64|128  q8/q4 block size (default 32 up to 3 G parameters, 64 above)
  --image-tokenizer DIR    SEED-LLaMA models: the SEED image tokenizer folder (reads images; its
                           tokenizer files carry the image tokens)
  --diffusion DIR          SEED-LLaMA models: the diffusers folder that draws their images (unCLIP
                           for SEED v2, SD 1.x for v1); without it drawn images come back as codes
  --max-drawn-images N     images a drawing model renders per request (default ${DEFAULT_LIMITS.maxDrawnImages})
  --queue-size N           requests waiting per model before 429 (default ${DEFAULT_LIMITS.queueSize})
  --max-tokens-cap N       largest max_tokens a client may ask for (default ${DEFAULT_LIMITS.maxTokensCap})
  --max-images N           images per request (default ${DEFAULT_LIMITS.maxImagesPerRequest})
  --max-image-pixels N     width × height per image (default ${DEFAULT_LIMITS.maxImagePixels})
  --max-body-bytes N       request body size (default ${DEFAULT_LIMITS.maxBodyBytes})
  --max-connections N      open connections at once (default ${DEFAULT_LIMITS.maxConnections})
  --body-timeout-ms N      time to send a request body before a 408 (default ${DEFAULT_LIMITS.bodyTimeoutMs})
  -h, --help               show this help
`;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface ServeArgs {
  models: Array<{ name: string; dir: string }>;
  host: string;
  port: number;
  apiKey?: string;
  imageDir?: string;
  cors?: string[];
  allowedHosts?: string[];
  device?: 'cpu' | 'webgpu' | 'auto';
  dtype?: LoadOptions['dtype'];
  attention?: LoadOptions['attention'];
  quantBlockSize?: LoadOptions['quantBlockSize'];
  imageTokenizer?: string;
  diffusion?: string;
  limits: Partial<Limits>;
  help: boolean;
  json?: boolean;
}

const LIMIT_FLAGS: Record<string, keyof Limits> = {
  '--queue-size': 'queueSize',
  '--max-tokens-cap': 'maxTokensCap',
  '--max-images': 'maxImagesPerRequest',
  '--max-image-pixels': 'maxImagePixels',
  '--max-body-bytes': 'maxBodyBytes',
  '--max-connections': 'maxConnections',
  '--body-timeout-ms': 'bodyTimeoutMs',
  '--max-drawn-images': 'maxDrawnImages',
};

function parseInteger(flag: string, v: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
    throw new UsageError(`${flag} expects an integer from ${min} to ${max} (got "${v}")`);
  }
  return Number(v);
}

/** A folder (made absolute), or a built-in name / Hugging Face repo id that is not a folder here (kept). */
function folderOrId(s: string): string {
  return existsSync(s) || !isRepoId(s) ? resolve(s) : s;
}

/** NAME=DIR when the part before "=" looks like a name (no path separator); otherwise a folder. */
function parseModelSpec(spec: string): { name: string; dir: string } {
  const eq = spec.indexOf('=');
  if (eq > 0 && !/[\\/]/.test(spec.slice(0, eq))) {
    const name = spec.slice(0, eq);
    const dir = spec.slice(eq + 1);
    if (!dir) throw new UsageError(`--model ${spec}: the folder after "=" is missing`);
    return { name, dir: folderOrId(dir) };
  }
  const dir = folderOrId(spec);
  return { name: basename(dir), dir };
}

export function parseServeArgs(argv: string[], env: Record<string, string | undefined> = process.env): ServeArgs {
  const args: ServeArgs = { models: [], host: '127.0.0.1', port: 8080, limits: {}, help: false };
  if (env.TSVLM_API_KEY) args.apiKey = env.TSVLM_API_KEY;
  for (let i = 0; i < argv.length; i++) {
    let flag = argv[i]!;
    let value: string | undefined;
    const eq = flag.startsWith('--') ? flag.indexOf('=') : -1;
    if (eq > 0) {
      value = flag.slice(eq + 1);
      flag = flag.slice(0, eq);
    }
    const take = (): string => {
      if (value !== undefined) return value;
      const v = argv[++i];
      if (v === undefined || (v.startsWith('--') && v.length > 2)) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '-h':
      case '--help':
        args.help = true;
        break;
      case '--json':
        args.json = true;
        break;
      case '--model':
        args.models.push(parseModelSpec(take()));
        break;
      case '--host':
        args.host = take();
        break;
      case '--port':
        args.port = parseInteger('--port', take(), 0, 65535);
        break;
      case '--api-key':
        args.apiKey = take();
        if (!args.apiKey) throw new UsageError('--api-key must not be empty');
        break;
      case '--image-dir':
        args.imageDir = resolve(take());
        break;
      case '--cors':
        (args.cors ??= []).push(take());
        break;
      case '--allowed-hosts':
        (args.allowedHosts ??= []).push(...take().split(',').map((h) => h.trim()).filter(Boolean));
        break;
      case '--device': {
        const d = take();
        if (d !== 'cpu' && d !== 'webgpu' && d !== 'auto') throw new UsageError(`--device expects cpu or webgpu, or auto to pick (got "${d}")`);
        args.device = d;
        break;
      }
      case '--image-tokenizer':
        args.imageTokenizer = folderOrId(take());
        break;
      case '--diffusion':
        args.diffusion = folderOrId(take());
        break;
      case '--dtype': {
        const d = take();
        if (d !== 'fp32' && d !== 'fp16' && d !== 'q8' && d !== 'q4') throw new UsageError(`--dtype expects fp32, fp16, q8 or q4 (got "${d}")`);
        args.dtype = d;
        break;
      }
      case '--attention': {
        const a = take();
        if (a !== 'ops' && a !== 'gqa') throw new UsageError(`--attention expects ops or gqa (got "${a}")`);
        args.attention = a;
        break;
      }
      case '--quant-block': {
        const b = take();
        if (b !== '32' && b !== '64' && b !== '128') throw new UsageError(`--quant-block expects 32, 64 or 128 (got "${b}")`);
        args.quantBlockSize = Number(b) as 32 | 64 | 128;
        break;
      }
      default: {
        const limit = LIMIT_FLAGS[flag];
        if (!limit) throw new UsageError(`unknown option "${argv[i]}" (see tsvlm serve --help)`);
        args.limits[limit] = parseInteger(flag, take(), limit === 'queueSize' ? 0 : 1);
      }
    }
  }
  if (!args.help && args.models.length === 0) throw new UsageError('at least one --model DIR is needed (see tsvlm serve --help)');
  const names = new Set<string>();
  for (const m of args.models) {
    if (names.has(m.name)) throw new UsageError(`two models are named "${m.name}"; name them with --model NAME=DIR`);
    names.add(m.name);
  }
  return args;
}

export interface ServeIO {
  /** Human-readable output (default: console.log / console.error). */
  out?: (line: string) => void;
  err?: (line: string) => void;
  /** Called once the server listens. */
  onListening?: (info: ListenInfo, server: TsvlmServer) => void;
  /** Stops the server when aborted (tests; embedding in other programs). */
  stop?: AbortSignal;
  /** Signals that stop the server (default SIGINT and SIGTERM). */
  signals?: NodeJS.Signals[];
  /** Per-request access log. */
  accessLog?: boolean;
}

export type LoadFn = (dir: string, opts?: LoadOptions) => Promise<Model>;

/**
 * Runs `tsvlm serve` until a signal (or io.stop) and resolves with the exit code:
 * 0 after a clean shutdown, 1 when a model or the port fails, 2 for bad usage.
 */
export async function runServe(argv: string[], load: LoadFn, io: ServeIO = {}): Promise<number> {
  const out = io.out ?? ((s: string) => console.log(s));
  const err = io.err ?? ((s: string) => console.error(s));
  let args: ServeArgs;
  try {
    args = parseServeArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err(`tsvlm serve: ${e.message}`);
    return 2;
  }
  if (args.help) {
    out(SERVE_USAGE);
    return 0;
  }
  const log = serveLog(args.json ?? false, out, err);
  try {
    await checkPortFree(args.host, args.port);
  } catch (e) {
    log.error((e as Error).message);
    return 1;
  }
  // 'auto' probes for a WebGPU adapter (the engine is imported only then).
  const device = args.device === 'auto' ? await (await import('../graph/session.js')).resolveDevice('auto') : args.device;
  const models: Array<{ name: string; model: Model; loadedAt: Date }> = [];
  const disposeAll = async () => {
    for (const { model } of models.splice(0)) await model.dispose().catch(() => {});
  };
  try {
    // The renderer of drawing models (engine code: imported only when asked for).
    const imageRenderer = args.diffusion
      ? await (await import('../models/diffusion/image-renderer.js')).SeedImageRenderer.load(args.diffusion, { ...(device ? { device } : {}) })
      : undefined;
    const drawing = { ...(args.imageTokenizer ? { imageTokenizer: args.imageTokenizer } : {}), ...(imageRenderer ? { imageRenderer } : {}) };
    for (const { name, dir } of args.models) {
      log.info(`loading ${name} from ${dir} ...`, { model: name, dir });
      const t0 = Date.now();
      const model = await load(dir, { name, ...(device ? { device } : {}), ...(args.dtype ? { dtype: args.dtype } : {}), ...(args.attention ? { attention: args.attention } : {}), ...(args.quantBlockSize ? { quantBlockSize: args.quantBlockSize } : {}), ...drawing });
      models.push({ name, model, loadedAt: new Date() });
      const s = (Date.now() - t0) / 1000;
      log.info(`loaded ${name} (${model.kind}, ${model.info.modelType}) in ${s.toFixed(1)} s`, { model: name, kind: model.kind, model_type: model.info.modelType, seconds: s });
    }
  } catch (e) {
    log.error((e as Error).message);
    await disposeAll();
    return 1;
  }
  // Signal handlers go in before the port opens (a SIGTERM right after startup must not find the
  // default action) and stay until shutdown has finished: a second signal during shutdown (an
  // impatient Ctrl-C, a supervisor repeating SIGTERM) only logs, instead of killing the process
  // halfway.
  const signals = io.signals ?? ['SIGINT', 'SIGTERM'];
  let requested = false;
  let resolveStop!: () => void;
  const stopRequested = new Promise<void>((r) => (resolveStop = r));
  const onSignal = () => {
    if (requested) return log.info('already shutting down');
    requested = true;
    resolveStop();
  };
  for (const sig of signals) process.on(sig, onSignal);
  if (io.stop?.aborted) onSignal();
  else io.stop?.addEventListener('abort', onSignal, { once: true });
  const removeSignalHandlers = () => {
    for (const sig of signals) process.off(sig, onSignal);
    io.stop?.removeEventListener('abort', onSignal);
  };
  let server: TsvlmServer;
  let info: ListenInfo;
  try {
    server = createServer({
      models,
      ...(args.apiKey ? { apiKey: args.apiKey } : {}),
      ...(args.imageDir ? { localImageDir: args.imageDir } : {}),
      ...(args.cors ? { cors: args.cors.length === 1 ? args.cors[0]! : args.cors } : {}),
      ...(args.allowedHosts ? { allowedHosts: args.allowedHosts } : {}),
      limits: args.limits,
      ...(io.accessLog !== false ? { log: log.access } : {}),
    });
    info = await server.listen(args.host, args.port);
  } catch (e) {
    removeSignalHandlers();
    log.error((e as Error).message);
    await disposeAll();
    return 1;
  }
  log.info(`listening on ${info.url} (web page at ${info.url}/, API at ${info.url}/v1)`, { url: info.url });
  if (!isLoopback(info.host)) log.info('warning: reachable from other machines' + (args.apiKey ? '' : ' and no --api-key is set'));
  io.onListening?.(info, server);

  await stopRequested;
  log.info('shutting down (stopping generations in progress) ...');
  try {
    await server.close();
    await disposeAll();
  } finally {
    removeSignalHandlers();
  }
  log.info('stopped');
  return 0;
}

function isLoopback(host: string): boolean {
  return host === '::1' || host.startsWith('127.') || host === 'localhost' || host === '::ffff:127.0.0.1';
}
