// OpenAI wire format: request bodies → our request types (with image URLs still unresolved), and
// our results → chat.completion / chat.completion.chunk / embedding list JSON. No model knowledge here.
import { randomUUID } from 'node:crypto';
import type { FinishReason, GeneratedImage, GenerationOptions, GenerationResult, LabelScore } from '../api.js';
import { pngDataUrl } from '../processors/image-encode.js';
import { badRequest } from './errors.js';
import type { Limits } from './limits.js';
import {
  type Json,
  isObject,
  optionalBoolean,
  optionalNumber,
  refuseUnless,
  requireObject,
  requireString,
} from './validate.js';

/** An image URL found in a request, with the field it came from (for error messages). */
export interface ImageRef {
  url: string;
  param: string;
}

/** `codes`: an image's tokens as a drawing model returned them (extension): used instead of the URL. */
export type PendingPart = { type: 'text'; text: string } | { type: 'image'; ref?: ImageRef; codes?: number[] };

export interface PendingMessage {
  role: 'system' | 'user' | 'assistant';
  content: string | PendingPart[];
}

export interface ChatRequest {
  model: string;
  messages: PendingMessage[];
  images: ImageRef[];
  stream: boolean;
  includeUsage: boolean;
  /** `modalities` as asked (default ["text"]); "image" asks a drawing model for images. */
  modalities: Array<'text' | 'image'>;
  /** Assistant messages hold images (only models that draw read those). */
  assistantImages: boolean;
  /** As asked by the client (already checked against the cap); undefined → server default. */
  maxTokens?: number;
  gen: Omit<GenerationOptions, 'signal' | 'maxNewTokens'>;
}

export type EmbeddingInput = { kind: 'text'; text: string } | { kind: 'image'; ref: ImageRef };

export interface EmbeddingsRequest {
  model: string;
  inputs: EmbeddingInput[];
  encoding: 'float' | 'base64';
  dimensions?: number;
}

export interface ClassifyRequest {
  model: string;
  image: ImageRef;
  labels: string[];
}

const MAX_LABEL_LENGTH = 1000;

function parseModel(body: Json): string {
  return requireString(body.model, 'model', { nonEmpty: true, maxLength: 512 });
}

function imageUrlOf(part: Json, param: string): string {
  // OpenAI sends {image_url: {url, detail}}; some clients send the URL string directly.
  const iu = part.image_url;
  if (typeof iu === 'string') return iu;
  if (isObject(iu)) return requireString(iu.url, `${param}.image_url.url`, { nonEmpty: true });
  throw badRequest(`${param}.image_url must be {"url": "data:image/...;base64,..."}`, `${param}.image_url`);
}

function parseMessage(raw: unknown, i: number, images: ImageRef[]): PendingMessage {
  const param = `messages[${i}]`;
  const m = requireObject(raw, param);
  const role = m.role === 'developer' ? 'system' : m.role;
  if (role !== 'system' && role !== 'user' && role !== 'assistant') {
    throw badRequest(
      `${param}.role must be "system", "developer", "user" or "assistant" (got ${JSON.stringify(m.role)}; tools are not supported)`,
      `${param}.role`,
    );
  }
  if (m.tool_calls !== undefined && m.tool_calls !== null) {
    throw badRequest(`${param}.tool_calls: tools are not supported by this server`, `${param}.tool_calls`, 'unsupported_parameter');
  }
  const hasImages = m.images !== undefined && m.images !== null;
  if (typeof m.content === 'string' && !hasImages) return { role, content: m.content };
  if (m.content === null && role === 'assistant' && hasImages) m.content = [];
  if (typeof m.content === 'string') m.content = m.content ? [{ type: 'text', text: m.content }] : [];
  if (!Array.isArray(m.content)) {
    throw badRequest(`${param}.content must be a string or an array of content parts`, `${param}.content`);
  }
  const parts: PendingPart[] = m.content.map((rawPart, j) => {
    const pp = `${param}.content[${j}]`;
    const part = requireObject(rawPart, pp);
    if (part.type === 'text') return { type: 'text', text: requireString(part.text, `${pp}.text`) };
    if (part.type === 'image_url') return parseImagePart(part, pp, role, images);
    throw badRequest(`${pp}.type must be "text" or "image_url" (got ${JSON.stringify(part.type)})`, `${pp}.type`);
  });
  // Images a drawing model returned (choices[].message.images) may come back in the history.
  if (hasImages) {
    if (role !== 'assistant' || !Array.isArray(m.images)) throw badRequest(`${param}.images must be an array, in assistant messages only`, `${param}.images`);
    m.images.forEach((raw, j) => parts.push(parseImagePart(requireObject(raw, `${param}.images[${j}]`), `${param}.images[${j}]`, role, images)));
  }
  return { role, content: parts };
}

const MAX_CODES = 4096;

function parseImagePart(part: Json, pp: string, role: PendingMessage['role'], images: ImageRef[]): PendingPart {
  if (role === 'system') throw badRequest(`${pp}: images are not allowed in system messages`, pp);
  let codes: number[] | undefined;
  if (part.codes !== undefined && part.codes !== null) {
    if (!Array.isArray(part.codes) || part.codes.length === 0 || part.codes.length > MAX_CODES || !part.codes.every((c) => Number.isSafeInteger(c) && (c as number) >= 0)) {
      throw badRequest(`${pp}.codes must be an array of at most ${MAX_CODES} non-negative integers (an image's codes as returned)`, `${pp}.codes`);
    }
    codes = part.codes as number[];
  }
  // With codes the URL is not needed (the codes are the image for the model): not decoded.
  if (codes) return { type: 'image', codes };
  const ref = { url: imageUrlOf(part, pp), param: `${pp}.image_url` };
  images.push(ref);
  return { type: 'image', ref };
}

function parseModalities(v: unknown): Array<'text' | 'image'> {
  if (v === undefined || v === null) return ['text'];
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => x === 'text' || x === 'image')) {
    throw badRequest('modalities must be a non-empty array of "text" and "image"', 'modalities');
  }
  return [...new Set(v as Array<'text' | 'image'>)];
}

function parseStop(v: unknown, limits: Limits): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list)) throw badRequest('stop must be a string or an array of strings', 'stop');
  if (list.length > limits.maxStopSequences) {
    throw badRequest(`stop has ${list.length} strings (limit ${limits.maxStopSequences})`, 'stop');
  }
  return list.map((s, i) => requireString(s, `stop[${i}]`, { nonEmpty: true, maxLength: 1000 }));
}

function parseMaxTokens(body: Json, limits: Limits): number | undefined {
  const range = { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true };
  const a = optionalNumber(body.max_tokens, 'max_tokens', range);
  const b = optionalNumber(body.max_completion_tokens, 'max_completion_tokens', range);
  if (a !== undefined && b !== undefined && a !== b) {
    throw badRequest('max_tokens and max_completion_tokens differ; send one of them', 'max_tokens');
  }
  const v = a ?? b;
  if (v !== undefined && v > limits.maxTokensCap) {
    const param = a !== undefined ? 'max_tokens' : 'max_completion_tokens';
    throw badRequest(`${param} is ${v}; this server allows at most ${limits.maxTokensCap}`, param, 'max_tokens_exceeded');
  }
  return v;
}

/** Validates a /v1/chat/completions body. Unknown fields are ignored; unsupported features are refused. */
export function parseChatRequest(raw: unknown, limits: Limits): ChatRequest {
  const body = requireObject(raw, 'body');
  const model = parseModel(body);
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    throw badRequest('messages must be a non-empty array', 'messages');
  }
  const images: ImageRef[] = [];
  const messages = body.messages.map((m, i) => parseMessage(m, i, images));
  const stream = optionalBoolean(body.stream, 'stream') ?? false;
  let includeUsage = false;
  if (body.stream_options !== undefined && body.stream_options !== null) {
    if (!stream) throw badRequest('stream_options is only allowed when stream is true', 'stream_options');
    const so = requireObject(body.stream_options, 'stream_options');
    includeUsage = optionalBoolean(so.include_usage, 'stream_options.include_usage') ?? false;
  }
  refuseUnless(body, 'n', (v) => v === 1, 'only n=1 is available');
  refuseUnless(body, 'presence_penalty', (v) => v === 0, 'use repetition_penalty instead');
  refuseUnless(body, 'frequency_penalty', (v) => v === 0, 'use repetition_penalty instead');
  refuseUnless(body, 'logprobs', (v) => v === false, 'log probabilities are not returned');
  refuseUnless(body, 'top_logprobs', (v) => v === 0, 'log probabilities are not returned');
  refuseUnless(body, 'logit_bias', (v) => isObject(v) && Object.keys(v).length === 0, 'logit bias is not implemented');
  refuseUnless(body, 'tools', (v) => Array.isArray(v) && v.length === 0, 'tools are not supported');
  refuseUnless(body, 'functions', (v) => Array.isArray(v) && v.length === 0, 'tools are not supported');
  refuseUnless(body, 'tool_choice', (v) => v === 'none', 'tools are not supported');
  refuseUnless(body, 'response_format', (v) => isObject(v) && v.type === 'text', 'only plain text output is available');
  const gen: ChatRequest['gen'] = {
    temperature: optionalNumber(body.temperature, 'temperature', { min: 0, max: 2 }),
    topP: optionalNumber(body.top_p, 'top_p', { min: 0, max: 1, exclusiveMin: true }),
    seed: optionalNumber(body.seed, 'seed', { min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER, integer: true }),
    stop: parseStop(body.stop, limits),
    // Extensions (as in vLLM): sampling knobs the engine has and OpenAI lacks.
    topK: optionalNumber(body.top_k, 'top_k', { min: 0, max: 1_000_000, integer: true }),
    minP: optionalNumber(body.min_p, 'min_p', { min: 0, max: 1 }),
    repetitionPenalty: optionalNumber(body.repetition_penalty, 'repetition_penalty', { min: 0, max: 10, exclusiveMin: true }),
    maxTiles: optionalNumber(body.max_tiles, 'max_tiles', { min: 1, max: 40, integer: true }),
  };
  for (const k of Object.keys(gen) as Array<keyof typeof gen>) if (gen[k] === undefined) delete gen[k];
  const modalities = parseModalities(body.modalities);
  const assistantImages = messages.some((m) => m.role === 'assistant' && Array.isArray(m.content) && m.content.some((p) => p.type === 'image'));
  return { model, messages, images, stream, includeUsage, modalities, assistantImages, maxTokens: parseMaxTokens(body, limits), gen };
}

/** Validates a /v1/embeddings body. Documented extension: items that are data:image/ URLs are images. */
export function parseEmbeddingsRequest(raw: unknown, limits: Limits): EmbeddingsRequest {
  const body = requireObject(raw, 'body');
  const model = parseModel(body);
  const list = typeof body.input === 'string' ? [body.input] : body.input;
  if (!Array.isArray(list) || list.length === 0) {
    throw badRequest('input must be a non-empty string or array of strings', 'input');
  }
  if (list.length > limits.maxEmbeddingInputs) {
    throw badRequest(`input has ${list.length} items (limit ${limits.maxEmbeddingInputs})`, 'input');
  }
  const inputs = list.map((item, i): EmbeddingInput => {
    const param = typeof body.input === 'string' ? 'input' : `input[${i}]`;
    if (typeof item !== 'string') {
      throw badRequest(`${param} must be a string (token-id inputs are not supported)`, param);
    }
    if (item.length === 0) throw badRequest(`${param} must not be empty`, param);
    if (/^data:image\//i.test(item)) return { kind: 'image', ref: { url: item, param } };
    return { kind: 'text', text: item };
  });
  let encoding: EmbeddingsRequest['encoding'] = 'float';
  if (body.encoding_format !== undefined && body.encoding_format !== null) {
    if (body.encoding_format !== 'float' && body.encoding_format !== 'base64') {
      throw badRequest('encoding_format must be "float" or "base64"', 'encoding_format');
    }
    encoding = body.encoding_format;
  }
  const dimensions = optionalNumber(body.dimensions, 'dimensions', { min: 1, max: 1 << 20, integer: true });
  return { model, inputs, encoding, ...(dimensions !== undefined ? { dimensions } : {}) };
}

/** Validates a /v1/classify body (our extension): {model, image: data URL, labels: string[]}. */
export function parseClassifyRequest(raw: unknown, limits: Limits): ClassifyRequest {
  const body = requireObject(raw, 'body');
  const model = parseModel(body);
  const url = isObject(body.image) ? body.image.url : body.image;
  const image = { url: requireString(url, 'image', { nonEmpty: true }), param: 'image' };
  if (!Array.isArray(body.labels) || body.labels.length === 0) {
    throw badRequest('labels must be a non-empty array of strings', 'labels');
  }
  if (body.labels.length > limits.maxLabels) {
    throw badRequest(`labels has ${body.labels.length} items (limit ${limits.maxLabels})`, 'labels');
  }
  const labels = body.labels.map((l, i) => {
    const s = requireString(l, `labels[${i}]`, { maxLength: MAX_LABEL_LENGTH }).trim();
    if (!s) throw badRequest(`labels[${i}] must not be blank`, `labels[${i}]`);
    return s;
  });
  return { model, image, labels };
}

// ---- responses ----

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export function usageOf(r: Pick<GenerationResult, 'promptTokens' | 'completionTokens'>): Usage {
  return {
    prompt_tokens: r.promptTokens,
    completion_tokens: r.completionTokens,
    total_tokens: r.promptTokens + r.completionTokens,
  };
}

/** OpenAI has no "abort": a generation cut short by the server is reported as "length". */
export function finishReasonOf(r: FinishReason): 'stop' | 'length' {
  return r === 'stop' ? 'stop' : 'length';
}

export const completionId = () => `chatcmpl-${randomUUID().replaceAll('-', '')}`;
export const unixSeconds = () => Math.floor(Date.now() / 1000);

export interface CompletionMeta {
  id: string;
  created: number;
  model: string;
}

/**
 * Drawn images as OpenAI-compatible gateways return them: {type: "image_url", image_url: {url}},
 * plus (extensions) the image's `codes` and its `index` in the reply. A span that is not an
 * image, or an image not rendered, comes as {type: "image_error", error, codes}.
 */
export type ImageOut = { type: 'image_url'; index: number; image_url: { url: string }; codes: number[] } | { type: 'image_codes' | 'image_error'; index: number; codes: number[]; error?: string };

export async function imageOut(g: GeneratedImage): Promise<ImageOut> {
  if (g.error) return { type: 'image_error', index: g.index, codes: g.codes, error: g.error };
  if (!g.image) return { type: 'image_codes', index: g.index, codes: g.codes };
  return { type: 'image_url', index: g.index, image_url: { url: await pngDataUrl(g.image) }, codes: g.codes };
}

export function chatCompletion(meta: CompletionMeta, r: GenerationResult, images?: ImageOut[]) {
  return {
    id: meta.id,
    object: 'chat.completion' as const,
    created: meta.created,
    model: meta.model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant' as const, content: r.text, refusal: null, ...(images ? { images } : {}) },
        logprobs: null,
        finish_reason: finishReasonOf(r.finishReason),
      },
    ],
    usage: usageOf(r),
  };
}

/** One streamed chunk. With include_usage every chunk carries `usage: null` except the last one. */
export function chatChunk(
  meta: CompletionMeta,
  delta: { role?: 'assistant'; content?: string; images?: ImageOut[] },
  finishReason: 'stop' | 'length' | null,
  includeUsage: boolean,
) {
  return {
    id: meta.id,
    object: 'chat.completion.chunk' as const,
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...(includeUsage ? { usage: null } : {}),
  };
}

export function usageChunk(meta: CompletionMeta, usage: Usage) {
  return {
    id: meta.id,
    object: 'chat.completion.chunk' as const,
    created: meta.created,
    model: meta.model,
    choices: [],
    usage,
  };
}

/** base64 of the float32 values in little-endian order, as OpenAI's clients decode it. */
export function float32Base64(v: Float32Array): string {
  const bytes = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] === 1) return bytes.toString('base64');
  const le = Buffer.alloc(v.byteLength);
  v.forEach((x, i) => le.writeFloatLE(x, i * 4));
  return le.toString('base64');
}

export function embeddingsResponse(model: string, vectors: Float32Array[], encoding: 'float' | 'base64', promptTokens: number) {
  return {
    object: 'list' as const,
    data: vectors.map((v, index) => ({
      object: 'embedding' as const,
      index,
      embedding: encoding === 'base64' ? float32Base64(v) : Array.from(v),
    })),
    model,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  };
}

export function classifyResponse(model: string, scores: LabelScore[]) {
  return {
    object: 'classification' as const,
    model,
    data: scores.map((s) => ({ label: s.label, score: s.score, logit: s.logit })),
  };
}
