// Drawing through models that write images as tokens (SEED-LLaMA), with the library's ChatModel
// interface only:
//   POST /v1/images/generations  the OpenAI Images API (b64_json; SSE with stream: true)
//   POST /generate               SEED's own demo API, for users of the original demo
import type { ChatModel, ChatPart, GenerationOptions, GenerationResult } from '../api.js';
import { encodePng } from '../processors/image-encode.js';
import { chatEvents } from '../generate/generate.js';
import { readJsonBody } from './body.js';
import { type ModelEntry, ServeContext } from './context.js';
import { ApiError, badRequest } from './errors.js';
import { inSlot } from './embeddings.js';
import { resolveImage } from './images.js';
import { unixSeconds } from './openai.js';
import { type Json, optionalBoolean, optionalNumber, requireObject, requireString } from './validate.js';

const MAX_PROMPT_CHARS = 32_000;
const IMAGE_FLAG = '<image>';

/** The model named in the body, or the only model that draws when none is named. */
function drawingModel(body: Json, ctx: ServeContext): { entry: ModelEntry; model: ChatModel } {
  let entry: ModelEntry;
  if (body.model !== undefined && body.model !== null) entry = ctx.lookup(requireString(body.model, 'model', { nonEmpty: true, maxLength: 512 }));
  else {
    const drawing = [...ctx.models.keys()].map((n) => ctx.lookup(n)).filter((e) => e.model.kind === 'chat' && e.model.drawsImages);
    if (drawing.length !== 1) throw badRequest(drawing.length ? 'several models draw images; name one in "model"' : 'no model on this server draws images', 'model');
    entry = drawing[0]!;
  }
  const model = entry.model;
  if (model.kind !== 'chat' || !model.drawsImages) throw badRequest(`model "${entry.name}" does not draw images`, 'model', 'unsupported_model');
  return { entry, model };
}

function b64(png: Buffer): string {
  return png.toString('base64');
}

/** One forced image: the reply starts with an image and ends when it is complete. */
async function drawOne(model: ChatModel, prompt: string, o: GenerationOptions): Promise<{ png: Buffer; result: GenerationResult }> {
  const stream = model.chat([{ role: 'user', content: prompt }], { ...o, forceImage: true, stopAfterImages: 1, maxImages: 1 });
  const result = await stream.result;
  if (result.finishReason === 'abort') throw new ApiError(503, 'the generation was stopped before the image was complete', 'cancelled');
  const g = result.images?.[0];
  if (!g) throw new ApiError(500, 'the model wrote no image', 'image_generation_failed');
  if (g.error || !g.image) throw new ApiError(500, g.error ?? 'the image was not rendered', 'image_generation_failed');
  return { png: await encodePng(g.image), result };
}

export async function handleImageGenerations(raw: Request, ctx: ServeContext): Promise<Response> {
  const body = requireObject(await readJsonBody(raw, ctx.limits.maxBodyBytes), 'body');
  const { entry, model } = drawingModel(body, ctx);
  if (!model.rendersImages) throw badRequest(`model "${entry.name}" draws codes only: start the server with its renderer (--diffusion DIR)`, 'model', 'no_renderer');
  const prompt = requireString(body.prompt, 'prompt', { nonEmpty: true, maxLength: MAX_PROMPT_CHARS });
  const n = optionalNumber(body.n, 'n', { min: 1, max: ctx.limits.maxDrawnImages, integer: true }) ?? 1;
  if (body.size !== undefined && body.size !== null && body.size !== 'auto') throw badRequest('size: this model draws at its own size; send "auto" or leave it out', 'size', 'unsupported_parameter');
  const format = body.response_format ?? 'b64_json';
  if (format !== 'b64_json') throw badRequest('response_format must be "b64_json" (this server keeps no image URLs)', 'response_format', 'unsupported_parameter');
  const stream = optionalBoolean(body.stream, 'stream') ?? false;
  const seed = optionalNumber(body.seed, 'seed', { min: 0, max: 2 ** 31 - 1, integer: true });
  const gen: GenerationOptions = {
    temperature: optionalNumber(body.temperature, 'temperature', { min: 0, max: 2 }),
    topP: optionalNumber(body.top_p, 'top_p', { min: 0, max: 1, exclusiveMin: true }),
    maxNewTokens: ctx.limits.maxTokensCap,
  };
  const created = unixSeconds();
  // Image i uses seed + i, so n images differ and a seeded request is reproducible.
  const opts = (i: number, signal: AbortSignal): GenerationOptions => ({ ...gen, signal, ...(seed !== undefined ? { seed: seed + i } : {}) });
  if (!stream) {
    const data = await inSlot(raw, ctx, entry, async (signal) => signal, async (signal) => {
      const out = [];
      for (let i = 0; i < n; i++) out.push({ b64_json: b64((await drawOne(model, prompt, opts(i, signal))).png), revised_prompt: prompt });
      return out;
    });
    return Response.json({ created, data, output_format: 'png' });
  }
  // SSE as the Images API streams: one `image_generation.completed` event per image (no partial previews).
  const enc = new TextEncoder();
  const body$ = new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (event: string, data: unknown) => controller.enqueue(enc.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`));
      void inSlot(raw, ctx, entry, async (signal) => signal, async (signal) => {
        for (let i = 0; i < n; i++) {
          const { png } = await drawOne(model, prompt, { ...opts(i, signal), onProgress: (p) => controller.enqueue(enc.encode(`: progress ${JSON.stringify(p)}\n\n`)) });
          send('image_generation.completed', { type: 'image_generation.completed', b64_json: b64(png), created_at: created, output_format: 'png', size: 'auto', image_index: i });
        }
      })
        .catch((err) => send('error', { type: 'error', error: { message: (err as Error).message, code: (err as ApiError).code ?? null } }))
        .finally(() => {
          try { controller.close(); } catch { /* client gone */ }
        });
    },
  });
  return new Response(body$, { headers: { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache' } });
}

/**
 * SEED's demo API: {text with <image> placeholders, images: [base64 | codes], temperature,
 * top_p, max_new_tokens, num_beams, force_boi} → {text (drawn images as <image>), images (base64
 * PNG, '' when one failed), images_ids (codes of the prompt's images, then of the drawn ones),
 * error_msg}. The text is the raw prompt (the demo's client writes the USER:/ASSISTANT: markup).
 */
export async function handleSeedGenerate(raw: Request, ctx: ServeContext): Promise<Response> {
  const body = requireObject(await readJsonBody(raw, ctx.limits.maxBodyBytes), 'body');
  const { entry, model } = drawingModel(body, ctx);
  if (!model.complete) throw badRequest(`model "${entry.name}" does not continue raw prompts`, 'model');
  const text = requireString(body.text, 'text', { maxLength: MAX_PROMPT_CHARS });
  const images = body.images ?? [];
  if (!Array.isArray(images)) throw badRequest('images must be an array of base64 images or code lists', 'images');
  const pieces = text.split(IMAGE_FLAG);
  if (pieces.length !== images.length + 1) throw badRequest(`text has ${pieces.length - 1} ${IMAGE_FLAG} placeholders but ${images.length} images were sent`, 'images');
  if (images.length > ctx.limits.maxImagesPerRequest) throw badRequest(`the request has ${images.length} images; at most ${ctx.limits.maxImagesPerRequest} are allowed`, 'images', 'too_many_images');
  if ((optionalNumber(body.num_beams, 'num_beams', { min: 1, max: 1, integer: true }) ?? 1) !== 1) throw badRequest('num_beams must be 1', 'num_beams');
  const gen: GenerationOptions = {
    temperature: optionalNumber(body.temperature, 'temperature', { min: 0, max: 2 }) ?? 0.7,
    topP: optionalNumber(body.top_p, 'top_p', { min: 0, max: 1, exclusiveMin: true }) ?? 0.5,
    maxNewTokens: optionalNumber(body.max_new_tokens, 'max_new_tokens', { min: 1, max: ctx.limits.maxTokensCap, integer: true }) ?? 256,
    forceImage: optionalBoolean(body.force_boi, 'force_boi') ?? false,
    maxImages: ctx.limits.maxDrawnImages,
  };
  const out = await inSlot(
    raw,
    ctx,
    entry,
    async (signal) => {
      const parts: ChatPart[] = [];
      for (let i = 0; i < images.length; i++) {
        if (pieces[i]) parts.push({ type: 'text', text: pieces[i]! });
        const im = images[i];
        if (Array.isArray(im)) {
          if (!im.every((c) => Number.isSafeInteger(c))) throw badRequest(`images[${i}] must be base64 or a list of integer codes`, `images[${i}]`);
          parts.push({ type: 'image', image: new Uint8Array(), codes: im as number[] });
        } else if (typeof im === 'string') {
          signal.throwIfAborted();
          const url = im.startsWith('data:') ? im : `data:image/png;base64,${im}`;
          parts.push({ type: 'image', image: await resolveImage(url, `images[${i}]`, ctx.imageLimits) });
        } else throw badRequest(`images[${i}] must be base64 or a list of integer codes`, `images[${i}]`);
      }
      if (pieces[images.length]) parts.push({ type: 'text', text: pieces[images.length]! });
      return { parts, signal };
    },
    async ({ parts, signal }) => {
      const stream = model.complete!(parts, { ...gen, signal });
      let reply = '';
      const drawn: string[] = [];
      const errors: string[] = [];
      for await (const e of chatEvents(stream)) {
        if (e.type === 'text') { reply += e.text; continue; }
        reply += IMAGE_FLAG;
        if (e.image.error) errors.push(e.image.error);
        drawn.push(e.image.image ? b64(await encodePng(e.image.image)) : '');
      }
      const r = await stream.result;
      return { text: reply, images: drawn, images_ids: [...(r.promptImageCodes ?? []), ...(r.images ?? []).map((g) => g.codes)], error_msg: errors };
    },
  );
  return Response.json(out);
}
