// What each tsvlm command takes (for its --help and for refusing flags it does not use), and the
// checks of its inputs that run before a model is loaded: files, labels, prompts, sampling flags.
// A new command adds an entry to COMMANDS (and docs for new flags to OPTION_DOCS).
import { readFileSync, existsSync, statSync } from 'node:fs';
import type { Device, GenerationOptions } from '../api.js';
import { readImageHeader } from '../processors/image-header.js';
import { SAMPLING_RANGES, samplingRangeError } from '../generate/sampler.js';
import { DEFAULT_MAX_NEW_TOKENS } from '../models/causal-lm.js';
import { BUILTIN_MODELS } from '../builtin.js';
import { UsageError, requireFile, readTextArg, type CommandSpec, type OptionDoc } from './args.js';

/** The parsed flags, as the commands read them. */
export type CliValues = { [flag: string]: string | boolean | Array<string | boolean> | undefined };

const COMMON = ['model', 'revision', 'device', 'dtype', 'quant-block', 'accuracy-level', 'attention', 'json', 'quiet'] as const;
export const SAMPLING_FLAGS = ['max-new-tokens', 'temperature', 'top-p', 'top-k', 'min-p', 'repetition-penalty', 'seed', 'stop'] as const;

export const OPTION_DOCS: Record<string, OptionDoc> = {
  model: { arg: 'DIR|ID', help: 'checkpoint folder, built-in name, or Hugging Face repo id (from its cache; downloaded when missing)', repeatable: false },
  revision: { arg: 'REV', help: 'branch, tag or commit of a Hugging Face repo id', default: 'main' },
  device: { arg: 'cpu|webgpu|auto', help: 'where the model runs (auto: WebGPU when it has an adapter, else CPU)', default: 'cpu' },
  json: { help: 'machine-readable output on stdout' },
  quiet: { help: 'no progress on stderr' },
  help: { help: 'show this help' },
  image: { arg: 'FILE', help: 'image file (PNG, JPEG, WebP, GIF)' },
  text: { arg: 'TEXT', help: 'text to embed' },
  labels: { arg: '"A,B"|FILE', help: 'comma-separated labels, or a file with one label per line' },
  label: { arg: 'TEXT', help: 'one label, taken as is (may hold commas)' },
  prompt: { arg: 'TEXT', help: 'the prompt ("-" reads standard input)' },
  file: { arg: 'FILE', help: 'read the prompt/question from FILE ("-" = standard input)' },
  system: { arg: 'TEXT', help: 'system prompt of the conversation' },
  'input-ids': { arg: '1,2,3', help: 'prompt token ids instead of text' },
  chat: { help: "apply the model's chat template to the prompt" },
  'max-new-tokens': { arg: 'N', help: 'most tokens to generate', default: `${DEFAULT_MAX_NEW_TOKENS}, within the context left` },
  temperature: { arg: 'T', help: 'sampling temperature, 0 = greedy', default: 'greedy; 1 when another sampling flag is set' },
  'top-p': { arg: 'P', help: 'nucleus sampling, in [0, 1]', default: '1, off' },
  'top-k': { arg: 'K', help: 'sample among the K likeliest tokens', default: '0, off' },
  'min-p': { arg: 'P', help: 'drop tokens below P × the likeliest, in [0, 1]', default: '0, off' },
  'repetition-penalty': { arg: 'R', help: 'penalty of tokens already seen, > 0', default: '1, off' },
  seed: { arg: 'S', help: 'random seed (integer) for reproducible sampling', default: 'random' },
  stop: { arg: 'STRING', help: 'stop when the text contains STRING' },
  version: { help: 'print the tsvlm version' },
  dtype: { arg: 'fp32|fp16|q8|q4', help: 'weights at run time: q8/q4 quantize Linear weights (int8/int4 blocks, see --quant-block) at the first load and cache them (TSVLM_CACHE)', default: 'by size: fp32 up to 1.5 G parameters, q8 up to 3 G, q4 above' },
  'quant-block': { arg: '32|64|128', help: 'q8/q4 block size: larger blocks take less memory and decode faster, smaller ones are more exact', default: 'by size: 32 up to 3 G parameters, 64 above' },
  'accuracy-level': { arg: '4|0', help: 'q8/q4 compute: 4 = int8 activations (fast), 0 = float32', default: '4' },
  attention: { arg: 'gqa|ops', help: "decoder attention on CPU: ONNX Runtime's fused GroupQueryAttention, or plain ONNX ops (WebGPU: always ops)", default: 'gqa' },
  'max-tiles': { arg: 'N', help: "most tiles per image for models that tile images (HoVLE's max_num)", default: "the checkpoint's max_dynamic_patch" },
  'image-tokenizer': { arg: 'DIR', help: 'SEED-LLaMA: the SEED image tokenizer folder (reads images; its tokenizer files carry the image tokens)' },
  'out-dir': { arg: 'DIR', help: 'where drawn images are written as PNG', default: 'the current folder' },
  diffusion: { arg: 'SD_DIR', help: 'SEED-LLaMA: the diffusers folder that renders drawn images (stable-diffusion-2-1-unclip)', default: 'codes only' },
  'max-image-pixels': { arg: 'N', help: 'downsize each image to at most N pixels (more or fewer image tokens)', default: "the model's preprocessor limit, within the context" },
};

export const COMMANDS: Record<string, CommandSpec> = {
  pull: {
    synopsis: 'ORG/NAME [--revision REV]',
    about: 'Downloads a Hugging Face model repository (configs, tokenizer, safetensors) into the standard\nHugging Face cache ($HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub), resuming a partial\ndownload; $HF_TOKEN for gated or private repos, $HF_ENDPOINT for a mirror. Prints the folder.',
    options: ['revision', 'json', 'quiet'],
    positional: 'ORG/NAME',
  },
  list: {
    synopsis: '[--json]',
    about: 'Lists the built-in models and the models in the Hugging Face cache, with their sizes.',
    options: ['json'],
  },
  chat: {
    synopsis: '[--model DIR] [--image FILE]... [QUESTION | -f FILE | -]',
    about: 'Asks a chat model about images and streams the answer. Without a question: a REPL (one\nquestion per line, earlier turns kept; /help lists its commands).',
    options: [...COMMON, 'image', 'system', 'file', 'max-tiles', 'max-image-pixels', 'image-tokenizer', 'diffusion', 'out-dir', ...SAMPLING_FLAGS],
    positional: 'QUESTION',
    notes: `Default model: the built-in ${BUILTIN_MODELS.chat}.`,
  },
  classify: {
    synopsis: '[--model DIR] --image FILE... (--labels "A,B" | --labels FILE | --label TEXT...)',
    about: 'Zero-shot classification: sigmoid probability of each label, highest first, for each image\n(--json: one JSON line per image).',
    options: [...COMMON, 'image', 'labels', 'label'],
    notes: `Default model: the built-in ${BUILTIN_MODELS.embedding}.`,
  },
  embed: {
    synopsis: '[--model DIR] [--image FILE]... [--text TEXT]...',
    about: 'L2-normalised embeddings of every --image and --text, as one batch each.',
    options: [...COMMON, 'image', 'text'],
    notes: `Default model: the built-in ${BUILTIN_MODELS.embedding}.`,
  },
  generate: {
    synopsis: '--model DIR [PROMPT | --prompt TEXT | -f FILE | --input-ids 1,2,3] [--chat]',
    about: 'Continues a prompt with a text decoder (Llama, Mistral, Qwen2, InternLM2), or answers it\nwith --chat.',
    options: [...COMMON, 'prompt', 'file', 'input-ids', 'chat', 'system', 'image-tokenizer', 'diffusion', 'out-dir', ...SAMPLING_FLAGS],
    positional: 'PROMPT',
  },
  draw: {
    synopsis: '--model DIR [PROMPT | --prompt TEXT | -f FILE] [--out-dir DIR]',
    about: 'Draws an image with a model that writes images as tokens (SEED-LLaMA): its reply starts\nwith an image, written to --out-dir as PNG (codes only when no renderer is loaded).',
    options: [...COMMON, 'prompt', 'file', 'system', 'image-tokenizer', 'diffusion', 'out-dir', ...SAMPLING_FLAGS],
    positional: 'PROMPT',
    notes: 'With a diffusers Stable Diffusion folder as --model (model_index.json): text-to-image, see\n"tsvlm draw --model SD_DIR --help".',
  },
  tokenize: {
    synopsis: '--model DIR --image FILE... [--json]',
    about: 'Image → discrete codes with an image tokenizer (SEED): one line of codes per image, in order.',
    options: [...COMMON, 'image'],
  },
};

function num(v: unknown, flag: string, int = false): number | undefined {
  if (v === undefined) return undefined;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n) || (int && !Number.isInteger(n))) throw new UsageError(`--${flag} must be a${int ? 'n integer' : ' number'} (got ${JSON.stringify(v)})`);
  return n;
}

const RANGE_FLAGS: Record<string, keyof typeof SAMPLING_RANGES> = { temperature: 'temperature', 'top-p': 'topP', 'min-p': 'minP', 'repetition-penalty': 'repetitionPenalty', 'top-k': 'topK' };

/** Sampling flags → GenerationOptions, every value checked (so a bad flag fails before the model loads). */
export function generationOptions(v: CliValues, signal?: AbortSignal): GenerationOptions {
  const o: GenerationOptions = {
    maxNewTokens: num(v['max-new-tokens'], 'max-new-tokens', true),
    temperature: num(v.temperature, 'temperature'),
    topP: num(v['top-p'], 'top-p'),
    topK: num(v['top-k'], 'top-k', true),
    minP: num(v['min-p'], 'min-p'),
    seed: num(v.seed, 'seed', true),
    repetitionPenalty: num(v['repetition-penalty'], 'repetition-penalty'),
    stop: v.stop as string[] | undefined,
    maxTiles: num(v['max-tiles'], 'max-tiles', true),
    signal,
  };
  if (o.maxTiles !== undefined && o.maxTiles < 1) throw new UsageError(`--max-tiles must be at least 1 (got ${o.maxTiles})`);
  const pixels = num(v['max-image-pixels'], 'max-image-pixels', true);
  if (pixels !== undefined) {
    if (pixels < 1) throw new UsageError(`--max-image-pixels must be at least 1 (got ${pixels})`);
    o.maxImagePixels = pixels;
  }
  if (o.maxNewTokens !== undefined && o.maxNewTokens < 1) throw new UsageError(`--max-new-tokens must be at least 1 (got ${o.maxNewTokens})`);
  for (const [flag, key] of Object.entries(RANGE_FLAGS)) {
    const why = samplingRangeError(key, o[key]);
    if (why) throw new UsageError(`--${flag} ${why}`);
  }
  return o;
}

/** Checks that each --image names a readable image (format read from its header) before any model loads. */
export function checkImages(files: readonly string[]): string[] {
  for (const f of files) readImageHeader(new Uint8Array(readFileSync(requireFile(f, '--image'))), f);
  return [...files];
}

/** Labels from --labels ("a,b" or a file with one label per line) and every --label. */
export function readLabels(v: CliValues): string[] {
  const labels: string[] = [];
  const spec = v.labels as string | undefined;
  if (spec !== undefined) {
    const isFile = existsSync(spec) && statSync(spec).isFile();
    const parts = isFile ? readFileSync(spec, 'utf8').split(/\r?\n/) : spec.split(',');
    labels.push(...parts.map((s) => s.trim()).filter(Boolean));
    if (!labels.length) throw new UsageError(`--labels ${isFile ? `file ${spec}` : JSON.stringify(spec)} has no labels`);
  }
  for (const l of (v.label as string[] | undefined) ?? []) {
    if (!l.trim()) throw new UsageError('--label must not be empty');
    labels.push(l);
  }
  return labels;
}

/**
 * The prompt of a command from exactly one source: the free-text arguments (joined by spaces;
 * "-" alone reads standard input), `--prompt`, or `-f FILE`. Undefined when none is given.
 */
export function readPrompt(v: CliValues, positionals: string[]): string | undefined {
  const sources = [positionals.length ? 'an argument' : '', v.prompt !== undefined ? '--prompt' : '', v.file !== undefined ? '-f/--file' : ''].filter(Boolean);
  if (sources.length > 1) throw new UsageError(`the prompt was given twice (${sources.join(' and ')}); give one`);
  if (v.file !== undefined) return readTextArg(v.file as string, '--file');
  if (v.prompt !== undefined) return v.prompt === '-' ? readTextArg('-', '--prompt') : (v.prompt as string);
  if (positionals.length === 1 && positionals[0] === '-') return readTextArg('-', 'the argument');
  if (!positionals.length) return undefined;
  // `--image *.png "question"`: the shell's extra file names would silently join the question.
  const file = positionals.find((p) => /\.(png|jpe?g|webp|gif|bmp|tiff?)$/i.test(p) && existsSync(p));
  if (file) throw new UsageError(`the argument ${JSON.stringify(file)} is a file, not part of the question; pass each image with its own --image`);
  return positionals.join(' ');
}

/** --device: cpu, webgpu or auto (resolved when the model loads). */
export function checkDevice(v: unknown): Device | 'auto' {
  const d = v ?? 'cpu';
  if (d !== 'cpu' && d !== 'webgpu' && d !== 'auto') throw new UsageError(`--device must be cpu, webgpu or auto (got ${JSON.stringify(d)})`);
  return d;
}
