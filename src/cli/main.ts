// tsvlm command line: embed, classify, generate, chat, draw, tokenize, serve. No model-specific branches: models
// are reached through the library API only.
import { existsSync, readFileSync } from 'node:fs';
import type { ChatMessage, ChatModel, EmbeddingModel, GenerationOptions, LoadOptions, Model, Progress } from '../api.js';
import { loadModel, builtinModelDir, BUILTIN_MODELS, DecoderChatModel, resolveModelRef, SeedImageRenderer, supportedModelsText } from '../index.js';
import { UsageError, parseCommandArgs, commandHelp } from './args.js';
import { COMMANDS, OPTION_DOCS, generationOptions, checkImages, checkDevice, readLabels, readPrompt } from './commands.js';
import { resolveDevice } from '../graph/session.js';
import { runRepl } from './repl.js';
import { ReplyPrinter, replyEvents } from './reply.js';
import { cmdList, cmdPull } from './hub-commands.js';
import { progressPrinter } from './progress.js';

export { UsageError, generationOptions };

const USAGE = `tsvlm — vision-language models from Hugging Face checkpoints, in TypeScript

Usage:
  tsvlm chat [--model DIR] [--image FILE]... ["question"]   chat about images (REPL without a question)
  tsvlm classify [--model DIR] --image FILE... --labels "a cat,a dog"
  tsvlm embed [--model DIR] [--image FILE]... [--text TEXT]...
  tsvlm draw --model DIR "a red bus on a bridge"           draw an image (models that draw: SEED-LLaMA)
  tsvlm draw --model SD_DIR "prompt" [--steps N --seed N --size WxH --out F]   Stable Diffusion folders
  tsvlm reconstruct --model SEED_DIR --diffusion SD_DIR --image FILE --out F.png  image → codes → image
  tsvlm generate --model DIR [--prompt TEXT | -f FILE | --input-ids 1,2,3] [--chat]
  tsvlm tokenize --model DIR --image FILE... [--json]      image → codes (SEED): one line of codes per image
  tsvlm serve [--model DIR | --model NAME=DIR]... [--host 127.0.0.1] [--port 8080] [--api-key KEY]
  tsvlm batch tokenize|embed --model DIR --input DIR|LIST|TARS --out DIR   datasets → Parquet (batch --help)
  tsvlm pull ORG/NAME [--revision REV]                     download into the Hugging Face cache
  tsvlm list                                              built-in and cached models, with sizes

Common options:
  --model DIR|ID        checkpoint folder (config.json, *.safetensors, tokenizer files), a built-in
                        name, or a Hugging Face repo id (ORG/NAME: from the standard Hugging Face
                        cache, downloaded there when missing; --revision REV); default: built-in
  --device cpu|webgpu|auto  execution device (default cpu; auto: WebGPU when it has an adapter)
  --dtype fp32|fp16|q8|q4   weights at run time: q8/q4 quantize Linear weights (int8/int4
                        blocks) at the first load and cache them (TSVLM_CACHE); default
                        by size: fp32 up to 1.5 G parameters, q8 up to 3 G, q4 above
  --quant-block 32|64|128  q8/q4 block size (default 32 up to 3 G parameters, 64 above)
  --accuracy-level 4|0  q8/q4 compute: 4 = int8 activations (fast, default), 0 = float32
  --attention gqa|ops   decoder attention on CPU: ONNX Runtime's fused GroupQueryAttention
                        (default) or plain ONNX ops
  --json                machine-readable output
  --max-new-tokens N    --temperature T  --top-p P  --top-k K  --min-p P  --seed S
  --repetition-penalty R   --stop STRING (repeatable)
  --system TEXT         system prompt (chat, generate --chat)
  -f, --file FILE       read the prompt from FILE ("-" = standard input)
  --max-tiles N         most tiles per image for tiling models (HoVLE's max_num)
  -q, --quiet           no progress on stderr
  --image-tokenizer DIR SEED-LLaMA: the SEED image tokenizer folder (reads images; its tokenizer
                        files carry the image tokens)
  --out-dir DIR         where drawn images are written as PNG (default: the current folder)
  --version             print the version
  tsvlm COMMAND --help  the command's options with their defaults

Supported checkpoints (recognised from the folder):
${supportedModelsText()}
`;

const KIND_TEXT: Record<Model['kind'], string> = { chat: 'a chat model', embedding: 'an embedding model', 'image-tokenizer': 'an image tokenizer' };

const options = {
  model: { type: 'string', multiple: true },
  image: { type: 'string', multiple: true },
  text: { type: 'string', multiple: true },
  labels: { type: 'string' },
  label: { type: 'string', multiple: true },
  prompt: { type: 'string' },
  file: { type: 'string', short: 'f' },
  system: { type: 'string' },
  version: { type: 'boolean' },
  'max-image-pixels': { type: 'string' },
  revision: { type: 'string' },
  'input-ids': { type: 'string' },
  chat: { type: 'boolean' },
  json: { type: 'boolean' },
  device: { type: 'string' },
  dtype: { type: 'string' },
  'accuracy-level': { type: 'string' },
  attention: { type: 'string' },
  'quant-block': { type: 'string' },
  'max-new-tokens': { type: 'string' },
  temperature: { type: 'string' },
  'top-p': { type: 'string' },
  'top-k': { type: 'string' },
  'min-p': { type: 'string' },
  seed: { type: 'string' },
  'repetition-penalty': { type: 'string' },
  stop: { type: 'string', multiple: true },
  'max-tiles': { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
  host: { type: 'string' },
  port: { type: 'string' },
  'api-key': { type: 'string' },
  'image-dir': { type: 'string' },
  cors: { type: 'string' },
  'image-tokenizer': { type: 'string' },
  'out-dir': { type: 'string' },
  diffusion: { type: 'string' },
} as const;

type Values = { [K in keyof typeof options]?: (typeof options)[K] extends { type: 'boolean' } ? boolean : (typeof options)[K] extends { multiple: true } ? string[] : string };

function progress(quiet: boolean | undefined) {
  return quiet ? undefined : progressPrinter();
}

/** Prefill progress: a bar on a terminal only (erased when the answer starts). */
function prefillProgress(v: Values): Pick<GenerationOptions, 'onProgress'> {
  return !v.quiet && process.stderr.isTTY ? { onProgress: progressPrinter(process.stderr, true) } : {};
}


/** --dtype, --quant-block, --accuracy-level and --attention as LoadOptions (validated here so the message names the flag). */
function weightFlags(v: Values): Pick<LoadOptions, 'dtype' | 'accuracyLevel' | 'quantBlockSize' | 'attention'> {
  const out: Pick<LoadOptions, 'dtype' | 'accuracyLevel' | 'quantBlockSize' | 'attention'> = {};
  if (v.attention !== undefined) {
    if (v.attention !== 'ops' && v.attention !== 'gqa') throw new UsageError(`--attention must be ops or gqa (got ${JSON.stringify(v.attention)})`);
    out.attention = v.attention;
  }
  if (v.dtype !== undefined) {
    if (!['fp32', 'fp16', 'q8', 'q4'].includes(v.dtype)) throw new UsageError(`--dtype must be fp32, fp16, q8 or q4 (got ${JSON.stringify(v.dtype)})`);
    out.dtype = v.dtype as LoadOptions['dtype'];
  }
  if (v['accuracy-level'] !== undefined) {
    if (v['accuracy-level'] !== '0' && v['accuracy-level'] !== '4') throw new UsageError(`--accuracy-level must be 4 or 0 (got ${JSON.stringify(v['accuracy-level'])})`);
    out.accuracyLevel = Number(v['accuracy-level']) as 0 | 4;
  }
  if (v['quant-block'] !== undefined) {
    if (!['32', '64', '128'].includes(v['quant-block'])) throw new UsageError(`--quant-block must be 32, 64 or 128 (got ${JSON.stringify(v['quant-block'])})`);
    out.quantBlockSize = Number(v['quant-block']) as 32 | 64 | 128;
  }
  return out;
}

async function load(v: Values, kind: Model['kind']): Promise<Model> {
  if ((v.model?.length ?? 0) > 1) throw new UsageError(`--model was given ${v.model!.length} times; this command runs one model`);
  if (!v.model?.length && kind === 'image-tokenizer') throw new UsageError('this command needs --model DIR (an image tokenizer checkpoint, e.g. SEED)');
  const dir = v.model?.[0] ?? builtinModelDir(kind as 'chat' | 'embedding');
  const device = await resolveDevice(checkDevice(v.device));
  const imageTokenizer = v['image-tokenizer'];
  if (imageTokenizer !== undefined && !existsSync(imageTokenizer)) throw new UsageError(`--image-tokenizer ${imageTokenizer} does not exist`);
  // Drawn images become pixels through a Stable Diffusion folder or repo id (SEED's de-tokenizer).
  const diffusion = v.diffusion === undefined ? undefined : await resolveModelRef(v.diffusion, { onProgress: progress(v.quiet) });
  if (diffusion !== undefined && !existsSync(diffusion)) throw new UsageError(`--diffusion ${v.diffusion} does not exist`);
  const imageRenderer = diffusion ? await SeedImageRenderer.load(diffusion, { device, onProgress: progress(v.quiet) }) : undefined;
  const m = await loadModel(dir, { device, ...weightFlags(v), onProgress: progress(v.quiet), imageTokenizer, imageRenderer, ...(v.revision ? { revision: v.revision } : {}) });
  if (m.kind !== kind) {
    await m.dispose();
    throw new UsageError(`${dir} is ${KIND_TEXT[m.kind]} (${m.info.modelType}); this command needs ${KIND_TEXT[kind]}`);
  }
  return m;
}

async function cmdEmbed(v: Values): Promise<void> {
  const images = checkImages(v.image ?? []);
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

/** Every --image against the same labels; --json writes one line per image. */
async function cmdClassify(v: Values): Promise<void> {
  if (!v.image?.length) throw new UsageError('classify needs --image FILE (repeat it for several images)');
  if (v.labels === undefined && !v.label?.length) throw new UsageError('classify needs --labels "label one,label two", --labels FILE or --label TEXT');
  const labels = readLabels(v);
  const images = checkImages(v.image);
  const m = (await load(v, 'embedding')) as EmbeddingModel;
  for (const image of images) {
    const scores = await m.classify(image, labels);
    if (v.json) process.stdout.write(JSON.stringify({ model: m.info.name, image, scores }) + '\n');
    else {
      if (images.length > 1) process.stdout.write(`${image}\n`);
      for (const s of scores) process.stdout.write(`${s.score.toFixed(4)}  ${'█'.repeat(Math.round(s.score * 20)).padEnd(20)}  ${s.label}\n`);
    }
  }
  await m.dispose();
}

/**
 * Streams a reply to stdout (or collects it for --json); drawn images go to --out-dir as PNG.
 * Ctrl-C stops the generation.
 */
async function streamReply(m: ChatModel, messages: ChatMessage[], v: Values, run?: (o: GenerationOptions) => ReturnType<ChatModel['chat']>, extra: GenerationOptions = {}): Promise<void> {
  const ac = new AbortController();
  const onSig = () => ac.abort();
  process.once('SIGINT', onSig);
  try {
    const o = { ...generationOptions(v, ac.signal), ...prefillProgress(v), ...extra };
    const s = run ? run(o) : m.chat(messages, o);
    const printer = new ReplyPrinter({ out: process.stdout, json: v.json, outDir: v['out-dir'] });
    for await (const e of replyEvents(s)) await printer.onEvent(e);
    const r = await s.result;
    process.stdout.write(v.json ? printer.json(r) + '\n' : '\n');
  } finally {
    process.off('SIGINT', onSig);
  }
}

/** The conversation so far plus a user turn; the system prompt (--system) leads it. */
function withSystem(v: Values, messages: ChatMessage[]): ChatMessage[] {
  return v.system !== undefined ? [{ role: 'system', content: v.system }, ...messages] : messages;
}

async function cmdGenerate(v: Values, positionals: string[]): Promise<void> {
  const prompt = readPrompt(v, positionals);
  if (prompt !== undefined && v['input-ids']) throw new UsageError('give either a prompt or --input-ids, not both');
  if (!prompt && !v['input-ids']) throw new UsageError('generate needs a prompt (argument, --prompt TEXT, -f FILE) or --input-ids 1,2,3');
  if (!v.model?.length) throw new UsageError('generate needs --model DIR (a Llama, Mistral, Qwen2 or InternLM2 checkpoint)');
  if (v.system !== undefined && !v.chat) throw new UsageError('--system needs --chat (a plain continuation has no system prompt)');
  const ids = v['input-ids']?.split(',').map((s) => Number(s.trim()));
  if (ids?.some((x) => !Number.isInteger(x))) throw new UsageError(`--input-ids must be comma-separated integers`);
  generationOptions(v);
  const m = (await load(v, 'chat')) as ChatModel;
  if (ids) {
    const direct = m as ChatModel & Partial<Pick<DecoderChatModel, 'generateIds'>>;
    if (!direct.generateIds) throw new UsageError('--input-ids needs a text decoder checkpoint');
    await streamReply(m, [], v, (o) => direct.generateIds!(ids, o));
  } else if (v.chat || !(m instanceof DecoderChatModel)) {
    await streamReply(m, withSystem(v, [{ role: 'user', content: prompt! }]), v);
  } else {
    await streamReply(m, [], v, (o) => m.complete(prompt!, o));
  }
  await m.dispose();
}

async function cmdChat(v: Values, positionals: string[]): Promise<number> {
  const question = readPrompt(v, positionals)?.trim();
  const files = checkImages(v.image ?? []);
  generationOptions(v);
  const m = (await load(v, 'chat')) as ChatModel;
  const images = files.map((f) => readFileSync(f));
  try {
    if (question) {
      const content = images.length ? [...images.map((image) => ({ type: 'image' as const, image })), { type: 'text' as const, text: question }] : question;
      await streamReply(m, withSystem(v, [{ role: 'user', content }]), v);
      return 0;
    }
    return await runRepl({
      model: m,
      images: files.map((name, i) => ({ name, bytes: images[i]! })),
      system: v.system,
      json: v.json,
      options: (signal) => ({ ...generationOptions(v, signal), ...prefillProgress(v) }),
      outDir: v['out-dir'],
      readImage: (f) => readFileSync(checkImages([f])[0]!),
    });
  } finally {
    await m.dispose();
  }
}

async function cmdTokenize(v: Values): Promise<void> {
  const images = checkImages(v.image ?? []);
  if (!images.length) throw new UsageError('tokenize needs at least one --image FILE');
  const { runTokenize } = await import('./tokenize.js');
  await runTokenize({ images, json: v.json, load: () => load(v, 'image-tokenizer') });
}

/** Draw now: a model that writes images as tokens starts its reply with an image. */
async function cmdDraw(v: Values, positionals: string[]): Promise<void> {
  const prompt = readPrompt(v, positionals)?.trim();
  if (!prompt) throw new UsageError('draw needs a prompt: tsvlm draw --model DIR "a red bus on a bridge"');
  generationOptions(v);
  const m = (await load(v, 'chat')) as ChatModel;
  try {
    if (!m.drawsImages) throw new UsageError(`${m.info.name} (${m.info.modelType}) does not draw images`);
    await streamReply(m, withSystem(v, [{ role: 'user', content: prompt }]), v, undefined, { forceImage: true });
  } finally {
    await m.dispose();
  }
}

async function cmdServe(argv: string[]): Promise<number> {
  const { runServe } = await import('../serve/cli.js');
  // Without --model, serve the built-in chat and embedding models.
  const hasModel = argv.some((a) => a === '--model' || a.startsWith('--model=') || a === '-h' || a === '--help');
  const args = hasModel ? argv : ['--model', `${BUILTIN_MODELS.chat}=${builtinModelDir('chat')}`, '--model', `${BUILTIN_MODELS.embedding}=${builtinModelDir('embedding')}`, ...argv];
  // Each model on its own worker thread: tokenizing and ORT runs stay off the event loop. A model
  // given a loaded renderer (--diffusion) stays in this thread: that object cannot cross threads.
  const { loadModelInWorker } = await import('../serve/worker-model.js');
  return runServe(args, (dir, opts) => (opts?.imageRenderer || (opts?.imageTokenizer && typeof opts.imageTokenizer !== 'string') ? loadModel(dir, opts) : loadModelInWorker(dir, opts)));
}

function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(USAGE);
    return cmd ? 0 : 2;
  }
  if (cmd === '--version' || cmd === '-V' || cmd === 'version') {
    process.stdout.write(`tsvlm ${packageVersion()}\n`);
    return 0;
  }
  const spec = Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
  try {
    if (cmd === 'serve') return await cmdServe(rest);
    if (cmd === 'reconstruct') return await (await import('./reconstruct.js')).runReconstruct(rest);
    if (cmd === 'batch') return await (await import('../batch/cli.js')).runBatchCli(rest);
    // A diffusers folder (model_index.json) draws with Stable Diffusion (cli/draw.ts).
    if (cmd === 'draw') {
      const sd = await import('./draw.js');
      if (sd.isDiffusersDraw(rest)) return await sd.runDraw(rest);
    }
    const { values, positionals } = parseCommandArgs<Values>(cmd, rest, options, spec);
    if (values.help) {
      process.stdout.write(spec ? commandHelp(cmd, spec, options, OPTION_DOCS) : USAGE);
      return 0;
    }
    switch (cmd) {
      case 'embed': await cmdEmbed(values); break;
      case 'classify': await cmdClassify(values); break;
      case 'generate': await cmdGenerate(values, positionals); break;
      case 'chat': return await cmdChat(values, positionals);
      case 'draw': await cmdDraw(values, positionals); break;
      case 'tokenize': await cmdTokenize(values); break;
      case 'pull': await cmdPull(values, positionals); break;
      case 'list': await cmdList(values); break;
      default: throw new UsageError(`unknown command ${JSON.stringify(cmd)} (embed, classify, generate, chat, draw, tokenize, batch, serve, pull, list)`);
    }
    return 0;
  } catch (e) {
    const err = e as Error & { code?: string };
    const usage = e instanceof UsageError || err.code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`tsvlm: error: ${err.message}\n`);
    if (usage) process.stderr.write(`run "tsvlm ${spec ? `${cmd} ` : ''}--help" for usage\n`);
    if (process.env.TSVLM_DEBUG && err.stack) process.stderr.write(err.stack + '\n');
    return usage ? 2 : 1;
  }
}
