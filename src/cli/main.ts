// tsvlm command line: embed, classify, generate, chat, serve. No model-specific branches: models
// are reached through the library API only.
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';
import { existsSync, readFileSync } from 'node:fs';
import type { ChatMessage, ChatModel, EmbeddingModel, GenerationOptions, Model, Progress, Device } from '../api.js';
import { loadModel, builtinModelDir, BUILTIN_MODELS, DecoderChatModel, supportedModelsText } from '../index.js';

const USAGE = `tsvlm — vision-language models from Hugging Face checkpoints, in TypeScript

Usage:
  tsvlm chat [--model DIR] [--image FILE] ["question"]      chat about an image (REPL without a question)
  tsvlm classify [--model DIR] --image FILE --labels "a cat,a dog"
  tsvlm embed [--model DIR] [--image FILE]... [--text TEXT]...
  tsvlm generate --model DIR [--prompt TEXT | --input-ids 1,2,3] [--chat]
  tsvlm serve [--model DIR | --model NAME=DIR]... [--host 127.0.0.1] [--port 8080] [--api-key KEY]

Common options:
  --model DIR           checkpoint folder (config.json, *.safetensors, tokenizer files);
                        default: the built-in models (models/)
  --device cpu|webgpu   execution device (default cpu)
  --json                machine-readable output
  --max-new-tokens N    --temperature T  --top-p P  --top-k K  --min-p P  --seed S
  --repetition-penalty R   --stop STRING (repeatable)
  -q, --quiet           no progress on stderr

Supported checkpoints (recognised from the folder):
${supportedModelsText()}
`;

export class UsageError extends Error {}

const KIND_TEXT: Record<Model['kind'], string> = { chat: 'a chat model', embedding: 'an embedding model', 'image-tokenizer': 'an image tokenizer' };

const options = {
  model: { type: 'string', multiple: true },
  image: { type: 'string', multiple: true },
  text: { type: 'string', multiple: true },
  labels: { type: 'string' },
  prompt: { type: 'string' },
  'input-ids': { type: 'string' },
  chat: { type: 'boolean' },
  json: { type: 'boolean' },
  device: { type: 'string' },
  'max-new-tokens': { type: 'string' },
  temperature: { type: 'string' },
  'top-p': { type: 'string' },
  'top-k': { type: 'string' },
  'min-p': { type: 'string' },
  seed: { type: 'string' },
  'repetition-penalty': { type: 'string' },
  stop: { type: 'string', multiple: true },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
  host: { type: 'string' },
  port: { type: 'string' },
  'api-key': { type: 'string' },
  'image-dir': { type: 'string' },
  cors: { type: 'string' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values'];

function num(v: string | undefined, name: string, int = false): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || (int && !Number.isInteger(n))) throw new UsageError(`--${name} must be a${int ? 'n integer' : ' number'} (got ${JSON.stringify(v)})`);
  return n;
}

export function generationOptions(v: Values, signal?: AbortSignal): GenerationOptions {
  return {
    maxNewTokens: num(v['max-new-tokens'], 'max-new-tokens', true),
    temperature: num(v.temperature, 'temperature'),
    topP: num(v['top-p'], 'top-p'),
    topK: num(v['top-k'], 'top-k', true),
    minP: num(v['min-p'], 'min-p'),
    seed: num(v.seed, 'seed', true),
    repetitionPenalty: num(v['repetition-penalty'], 'repetition-penalty'),
    stop: v.stop,
    signal,
  };
}

function progress(quiet: boolean | undefined) {
  if (quiet || !process.stderr.isTTY && process.env.TSVLM_PROGRESS !== '1') return undefined;
  return (p: Progress) => process.stderr.write(`[tsvlm] ${p.stage} ${p.done}/${p.total}${p.message ? ` ${p.message}` : ''}\n`);
}

async function load(v: Values, kind: 'chat' | 'embedding'): Promise<Model> {
  const dir = v.model?.[0] ?? builtinModelDir(kind);
  const device = (v.device ?? 'cpu') as Device;
  if (device !== 'cpu' && device !== 'webgpu') throw new UsageError(`--device must be cpu or webgpu (got ${device})`);
  const m = await loadModel(dir, { device, onProgress: progress(v.quiet) });
  if (m.kind !== kind) {
    await m.dispose();
    throw new UsageError(`${dir} is ${KIND_TEXT[m.kind]} (${m.info.modelType}); this command needs ${KIND_TEXT[kind]}`);
  }
  return m;
}

function requireFile(f: string): string {
  if (!existsSync(f)) throw new UsageError(`image file ${f} does not exist`);
  return f;
}

async function cmdEmbed(v: Values): Promise<void> {
  const images = (v.image ?? []).map(requireFile);
  const texts = v.text ?? [];
  if (!images.length && !texts.length) throw new UsageError('embed needs at least one --image or --text');
  const m = (await load(v, 'embedding')) as EmbeddingModel;
  const ie = await m.embedImages(images);
  const te = await m.embedTexts(texts);
  const rows = [...images.map((f, i) => ({ type: 'image', input: f, embedding: Array.from(ie[i]!) })), ...texts.map((t, i) => ({ type: 'text', input: t, embedding: Array.from(te[i]!) }))];
  if (v.json) process.stdout.write(JSON.stringify({ model: m.info.name, dimensions: m.dimensions, embeddings: rows }) + '\n');
  else for (const r of rows) process.stdout.write(`${r.type}\t${r.input}\t[${r.embedding.slice(0, 4).map((x) => x.toFixed(4)).join(', ')}, … ${r.embedding.length} dims]\n`);
  await m.dispose();
}

async function cmdClassify(v: Values): Promise<void> {
  if (v.image?.length !== 1) throw new UsageError('classify needs exactly one --image FILE');
  if (!v.labels) throw new UsageError('classify needs --labels "label one,label two"');
  const labels = v.labels.split(',').map((s) => s.trim()).filter(Boolean);
  if (!labels.length) throw new UsageError('--labels has no labels');
  const m = (await load(v, 'embedding')) as EmbeddingModel;
  const scores = await m.classify(requireFile(v.image[0]!), labels);
  if (v.json) process.stdout.write(JSON.stringify({ model: m.info.name, image: v.image[0], scores }) + '\n');
  else for (const s of scores) process.stdout.write(`${s.score.toFixed(4)}  ${'█'.repeat(Math.round(s.score * 20)).padEnd(20)}  ${s.label}\n`);
  await m.dispose();
}

/** Streams a reply to stdout (or collects it for --json); Ctrl-C stops the generation. */
async function streamReply(m: ChatModel, messages: ChatMessage[], v: Values, run?: (o: GenerationOptions) => ReturnType<ChatModel['chat']>): Promise<string> {
  const ac = new AbortController();
  const onSig = () => ac.abort();
  process.once('SIGINT', onSig);
  try {
    const o = generationOptions(v, ac.signal);
    const s = run ? run(o) : m.chat(messages, o);
    if (!v.json) for await (const d of s) process.stdout.write(d);
    const r = await s.result;
    if (v.json) process.stdout.write(JSON.stringify({ token_ids: r.tokenIds, text: r.text, finish_reason: r.finishReason, usage: { prompt_tokens: r.promptTokens, completion_tokens: r.completionTokens } }) + '\n');
    else process.stdout.write('\n');
    return r.text;
  } finally {
    process.off('SIGINT', onSig);
  }
}

async function cmdGenerate(v: Values, positionals: string[]): Promise<void> {
  const prompt = v.prompt ?? positionals.join(' ');
  if (!prompt && !v['input-ids']) throw new UsageError('generate needs --prompt TEXT or --input-ids 1,2,3');
  if (!v.model?.length) throw new UsageError('generate needs --model DIR (a Llama, Mistral, Qwen2 or InternLM2 checkpoint)');
  const m = (await load(v, 'chat')) as ChatModel;
  if (v['input-ids']) {
    const ids = v['input-ids'].split(',').map((s) => Number(s.trim()));
    if (ids.some((x) => !Number.isInteger(x))) throw new UsageError(`--input-ids must be comma-separated integers`);
    if (!(m instanceof DecoderChatModel)) throw new UsageError('--input-ids needs a text decoder checkpoint');
    await streamReply(m, [], v, (o) => m.generateIds(ids, o));
  } else if (v.chat || !(m instanceof DecoderChatModel)) {
    await streamReply(m, [{ role: 'user', content: prompt }], v);
  } else {
    const ids = m.tokenizer.encode(prompt, { addSpecialTokens: true });
    await streamReply(m, [], v, (o) => m.generateIds(ids, o));
  }
  await m.dispose();
}

async function cmdChat(v: Values, positionals: string[]): Promise<void> {
  const m = (await load(v, 'chat')) as ChatModel;
  let image: Uint8Array | undefined = v.image?.[0] ? readFileSync(requireFile(v.image[0])) : undefined;
  const question = positionals.join(' ').trim();
  const userMsg = (text: string): ChatMessage => ({ role: 'user', content: image ? [{ type: 'image', image }, { type: 'text', text }] : text });
  if (question) {
    await streamReply(m, [userMsg(question)], v);
    await m.dispose();
    return;
  }
  // REPL: each line a question about the same image; /image FILE switches; earlier turns are kept.
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY });
  let history: ChatMessage[] = [];
  process.stdout.write(`tsvlm chat with ${m.info.name}${image ? ` about ${v.image![0]}` : ''}. /image FILE switches image, /reset clears, /quit exits.\n`);
  rl.setPrompt('> ');
  rl.prompt();
  for await (const line of rl) {
    const q = line.trim();
    if (!q) { rl.prompt(); continue; }
    if (q === '/quit' || q === '/exit') break;
    try {
      if (q === '/reset') history = [];
      else if (q.startsWith('/image')) {
        const f = q.slice(6).trim();
        image = readFileSync(requireFile(f));
        history = [];
        process.stdout.write(`image: ${f}\n`);
      } else {
        const msgs: ChatMessage[] = history.length ? [...history, { role: 'user', content: q }] : [userMsg(q)];
        const answer = await streamReply(m, msgs, v);
        history = [...msgs, { role: 'assistant', content: answer }];
      }
    } catch (e) {
      process.stderr.write(`error: ${(e as Error).message}\n`);
    }
    rl.prompt();
  }
  rl.close();
  await m.dispose();
}

async function cmdServe(argv: string[]): Promise<number> {
  const { runServe } = await import('../serve/cli.js');
  // Without --model, serve the built-in chat and embedding models.
  const hasModel = argv.some((a) => a === '--model' || a.startsWith('--model=') || a === '-h' || a === '--help');
  const args = hasModel ? argv : ['--model', `${BUILTIN_MODELS.chat}=${builtinModelDir('chat')}`, '--model', `${BUILTIN_MODELS.embedding}=${builtinModelDir('embedding')}`, ...argv];
  // Each model on its own worker thread: tokenizing, decoding and ORT runs stay off the event loop.
  const { loadModelInWorker } = await import('../serve/worker-model.js');
  return runServe(args, (dir, opts) => loadModelInWorker(dir, opts));
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(USAGE);
    return cmd ? 0 : 2;
  }
  try {
    if (cmd === 'serve') return await cmdServe(rest);
    const { values, positionals } = parseArgs({ args: rest, options, allowPositionals: true, strict: true });
    if (values.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    switch (cmd) {
      case 'embed': await cmdEmbed(values); break;
      case 'classify': await cmdClassify(values); break;
      case 'generate': await cmdGenerate(values, positionals); break;
      case 'chat': await cmdChat(values, positionals); break;
      default: throw new UsageError(`unknown command ${JSON.stringify(cmd)} (embed, classify, generate, chat, serve)`);
    }
    return 0;
  } catch (e) {
    const err = e as Error & { code?: string };
    const usage = e instanceof UsageError || err.code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`tsvlm: error: ${err.message}\n`);
    if (usage) process.stderr.write(`run "tsvlm --help" for usage\n`);
    if (process.env.TSVLM_DEBUG && err.stack) process.stderr.write(err.stack + '\n');
    return usage ? 2 : 1;
  }
}
