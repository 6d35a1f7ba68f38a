// POST /v1/chat/completions: validate, admit into the model's queue, check image headers while
// waiting, then decode and run model.chat() once it is this request's turn; JSON or SSE out. A client disconnect
// aborts the generation through the job's AbortSignal.
import type { ChatMessage, ChatModel, ChatPart, GenerationOptions, GenerationResult } from '../api.js';
import { readJsonBody } from './body.js';
import { type Job, type ModelEntry, ServeContext } from './context.js';
import { ApiError, badRequest, toApiError } from './errors.js';
import { checkedImageBytes, decodeImageBytes } from './images.js';
import {
  type ChatRequest,
  chatChunk,
  chatCompletion,
  completionId,
  finishReasonOf,
  imageOut,
  parseChatRequest,
  unixSeconds,
  usageChunk,
  usageOf,
} from './openai.js';
import type { Slot } from './queue.js';
import { checkChatChars } from './text-caps.js';

/** Every image's bytes, header-checked (no decoding): cheap, done while the request waits. */
async function checkImages(req: ChatRequest, ctx: ServeContext, signal: AbortSignal): Promise<Map<string, Uint8Array>> {
  const bytes = new Map<string, Uint8Array>();
  for (const ref of req.images) {
    signal.throwIfAborted();
    bytes.set(ref.param, await checkedImageBytes(ref.url, ref.param, ctx.imageLimits));
  }
  return bytes;
}

/** Decodes images one at a time (bounded memory) and builds the engine's message list. */
async function resolveMessages(req: ChatRequest, ctx: ServeContext, signal: AbortSignal, bytes: Map<string, Uint8Array>): Promise<ChatMessage[]> {
  const out: ChatMessage[] = [];
  for (const m of req.messages) {
    if (typeof m.content === 'string') {
      out.push({ role: m.role, content: m.content });
      continue;
    }
    const parts: ChatPart[] = [];
    for (const p of m.content) {
      if (p.type === 'text') parts.push({ type: 'text', text: p.text });
      else if (p.codes) parts.push({ type: 'image', image: new Uint8Array(), codes: p.codes });
      else {
        signal.throwIfAborted();
        parts.push({ type: 'image', image: await decodeImageBytes(bytes.get(p.ref!.param)!, p.ref!.param, ctx.imageLimits) });
      }
    }
    out.push({ role: m.role, content: parts });
  }
  return out;
}

/** max_new_tokens within the cap and, when the model can count its prompt, within its context. */
async function tokenBudget(model: ChatModel, messages: ChatMessage[], req: ChatRequest, ctx: ServeContext): Promise<number> {
  let budget = req.maxTokens ?? ctx.limits.defaultMaxTokens;
  const contextLength = model.info.contextLength;
  if (contextLength && model.countPromptTokens) {
    const prompt = await model.countPromptTokens(messages, { ...req.gen, maxNewTokens: budget }); // the reply decides how large an image may be
    const room = contextLength - prompt;
    if (room <= 0 || (req.maxTokens !== undefined && req.maxTokens > room)) {
      throw badRequest(
        `this model's context is ${contextLength} tokens; the prompt uses ${prompt} and ${req.maxTokens ?? 1} more were asked for`,
        'messages',
        'context_length_exceeded',
      );
    }
    budget = Math.min(budget, room);
  }
  return budget;
}

/** Runs one generation to the end (draining the deltas) and returns its result. */
async function generate(model: ChatModel, messages: ChatMessage[], opts: GenerationOptions): Promise<GenerationResult> {
  const stream = model.chat(messages, opts);
  for await (const _delta of stream) {
    // Non-streamed: the text is taken from the result.
  }
  return await stream.result;
}

/** A drawing model's options and checks: images rendered per request are capped. */
function drawingChecks(model: ChatModel, req: ChatRequest, ctx: ServeContext): Partial<GenerationOptions> {
  if (!model.drawsImages) {
    if (req.modalities.includes('image')) throw badRequest(`model "${model.info.name}" does not draw images; ask for modalities ["text"]`, 'modalities', 'unsupported_modality');
    if (req.assistantImages) throw badRequest(`model "${model.info.name}" reads images in user messages only`, 'messages', 'unsupported_content');
    return {};
  }
  return { maxImages: ctx.limits.maxDrawnImages };
}

const HEARTBEAT_MS = 15_000;

function shutdownError(): ApiError {
  return new ApiError(503, 'server is shutting down; the generation was stopped', 'shutting_down');
}

export async function handleChat(raw: Request, ctx: ServeContext): Promise<Response> {
  const req = parseChatRequest(await readJsonBody(raw, ctx.limits.maxBodyBytes, ctx.limits.bodyTimeoutMs), ctx.limits);
  const entry = ctx.lookup(req.model);
  if (entry.model.kind !== 'chat') {
    throw badRequest(`model "${entry.name}" is not a chat model (${entry.model.kind}); use the endpoint for its kind (see /v1/models)`, 'model', 'wrong_model_kind');
  }
  const model = entry.model;
  const maxImages = Math.min(ctx.limits.maxImagesPerRequest, model.maxImages ?? Infinity);
  if (req.images.length > maxImages) {
    const why = model.maxImages === 0 ? `model "${entry.name}" reads text only (no images)` : `at most ${maxImages} are allowed`;
    throw badRequest(`the request has ${req.images.length} images; ${why}`, 'messages', 'too_many_images');
  }
  checkChatChars(model, req.messages, ctx.limits);
  const job = ctx.begin(raw.signal);
  let slot: Slot | undefined;
  let handedOff = false;
  try {
    // Admission first (cheap, synchronous); image headers are checked while waiting, but pixels
    // are decoded only once this request's turn has come, so queued requests hold no decoded images.
    slot = ctx.enter(entry, job.signal);
    const bytes = await checkImages(req, ctx, job.signal);
    if (bytes.size) await slot.ready;
    const messages = await resolveMessages(req, ctx, job.signal, bytes);
    const opts: GenerationOptions = { ...req.gen, ...drawingChecks(model, req, ctx), maxNewTokens: await tokenBudget(model, messages, req, ctx), signal: job.signal };
    if (req.stream) {
      handedOff = true; // the stream releases the slot and ends the job
      return streamResponse(entry, model, messages, opts, req, job, slot);
    }
    await slot.ready;
    const result = await generate(model, messages, opts);
    if (result.finishReason === 'abort' && job.cause() === 'shutdown') throw shutdownError();
    const images = result.images && (await Promise.all(result.images.map(imageOut)));
    return Response.json(chatCompletion({ id: completionId(), created: unixSeconds(), model: entry.name }, result, images));
  } catch (err) {
    throw ServeContext.abortedError(job) ?? err;
  } finally {
    if (!handedOff) {
      slot?.release();
      job.end();
    }
  }
}

/** SSE: a role chunk at once, content deltas, a finish chunk, an optional usage chunk, then [DONE]. */
function streamResponse(
  entry: ModelEntry,
  model: ChatModel,
  messages: ChatMessage[],
  opts: GenerationOptions,
  req: ChatRequest,
  job: Job,
  slot: Slot,
): Response {
  const meta = { id: completionId(), created: unixSeconds(), model: entry.name };
  const encoder = new TextEncoder();
  let closed = false;
  let out: ReadableStreamDefaultController<Uint8Array>;
  let lastWrite = Date.now();
  const write = (text: string) => {
    if (closed) return;
    try {
      out.enqueue(encoder.encode(text));
      lastWrite = Date.now();
    } catch {
      closed = true;
    }
  };
  const send = (data: unknown) => write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
  // While queued or in a long prefill, an SSE comment now and then keeps proxies from timing out.
  const heartbeat = setInterval(() => {
    if (Date.now() - lastWrite >= HEARTBEAT_MS) write(': keep-alive\n\n');
  }, HEARTBEAT_MS / 3);
  heartbeat.unref();
  const finish = () => {
    clearInterval(heartbeat);
    slot.release();
    job.end();
    if (closed) return;
    closed = true;
    try {
      out.close();
    } catch {
      // already cancelled by the client
    }
  };
  const pump = async () => {
    try {
      send(chatChunk(meta, { role: 'assistant', content: '' }, null, req.includeUsage));
      await slot.ready;
      // Progress (prefill, a drawn image's diffusion steps) as SSE comments (clients ignore them; the web page shows them).
      const stream = model.chat(messages, { ...opts, onProgress: (p) => write(`: progress ${JSON.stringify(p)}\n\n`) });
      if (stream.events) {
        for await (const e of stream.events()) {
          if (e.type === 'text') { if (e.text) send(chatChunk(meta, { content: e.text }, null, req.includeUsage)); }
          else send(chatChunk(meta, { images: [await imageOut(e.image)] }, null, req.includeUsage));
        }
      } else for await (const delta of stream) if (delta) send(chatChunk(meta, { content: delta }, null, req.includeUsage));
      const result = await stream.result;
      if (result.finishReason === 'abort' && job.cause() === 'shutdown') throw shutdownError();
      send(chatChunk(meta, {}, finishReasonOf(result.finishReason), req.includeUsage));
      if (req.includeUsage) send(usageChunk(meta, usageOf(result)));
      send('[DONE]');
    } catch (err) {
      if (job.cause() !== 'client') {
        // Headers are gone already: report the error in-band, as OpenAI does (clients raise it).
        const e = job.cause() === 'shutdown' ? shutdownError() : toApiError(err);
        if (e.status >= 500 && e.code !== 'shutting_down') console.error('tsvlm serve: generation failed:', err);
        send(e.body());
      }
    } finally {
      finish();
    }
  };
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      out = controller;
      void pump();
    },
    cancel() {
      // The client went away (node-server cancels the body stream): stop the model.
      closed = true;
      job.abort('client');
    },
  });
  return new Response(body, {
    headers: {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    },
  });
}
