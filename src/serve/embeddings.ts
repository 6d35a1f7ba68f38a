// POST /v1/embeddings and POST /v1/classify (our extension) for embedding models. Texts and
// images of one request run in one queue slot; the output keeps the input order.
import type { DecodedImage, EmbeddingModel } from '../api.js';
import { readJsonBody } from './body.js';
import { type ModelEntry, ServeContext } from './context.js';
import { badRequest } from './errors.js';
import { resolveImage } from './images.js';
import { classifyResponse, embeddingsResponse, parseClassifyRequest, parseEmbeddingsRequest } from './openai.js';

function embeddingModel(entry: ModelEntry): EmbeddingModel {
  if (entry.model.kind !== 'embedding') {
    throw badRequest(`model "${entry.name}" is not an embedding model (${entry.model.kind}); use the endpoint for its kind (see /v1/models)`, 'model', 'wrong_model_kind');
  }
  return entry.model;
}

/**
 * Runs `work` in the model's queue slot after `prepare` (image decoding) has run while waiting.
 * Embedding calls take no AbortSignal, so a disconnect only helps while the request is still queued.
 */
export async function inSlot<P, T>(
  raw: Request,
  ctx: ServeContext,
  entry: ModelEntry,
  prepare: (signal: AbortSignal) => Promise<P>,
  work: (prepared: P) => Promise<T>,
): Promise<T> {
  const job = ctx.begin(raw.signal);
  try {
    const slot = ctx.enter(entry, job.signal);
    try {
      const prepared = await prepare(job.signal);
      await slot.ready;
      return await work(prepared);
    } finally {
      slot.release();
    }
  } catch (err) {
    throw ServeContext.abortedError(job) ?? err;
  } finally {
    job.end();
  }
}

function checkVectors(vectors: Float32Array[], expected: number, dims: number, what: string): void {
  if (vectors.length !== expected || vectors.some((v) => v.length !== dims)) {
    // A model returning the wrong shape is a bug, not the client's fault.
    throw new Error(`${what}: the model returned ${vectors.length} vectors for ${expected} inputs (dimension ${dims} expected)`);
  }
}

export async function handleEmbeddings(raw: Request, ctx: ServeContext): Promise<Response> {
  const req = parseEmbeddingsRequest(await readJsonBody(raw, ctx.limits.maxBodyBytes), ctx.limits);
  const entry = ctx.lookup(req.model);
  const model = embeddingModel(entry);
  if (req.dimensions !== undefined && req.dimensions !== model.dimensions) {
    throw badRequest(
      `dimensions=${req.dimensions} is not available: model "${entry.name}" returns ${model.dimensions}-dimensional embeddings`,
      'dimensions',
    );
  }
  const imageCount = req.inputs.filter((i) => i.kind === 'image').length;
  if (imageCount > ctx.limits.maxImagesPerRequest) {
    throw badRequest(
      `the request has ${imageCount} images; at most ${ctx.limits.maxImagesPerRequest} are allowed`,
      'input',
      'too_many_images',
    );
  }
  const vectors = await inSlot(
    raw,
    ctx,
    entry,
    async (signal) => {
      const images: DecodedImage[] = [];
      for (const input of req.inputs) {
        if (input.kind !== 'image') continue;
        signal.throwIfAborted();
        images.push(await resolveImage(input.ref.url, input.ref.param, ctx.imageLimits));
      }
      return images;
    },
    async (images) => {
      const texts = req.inputs.flatMap((i) => (i.kind === 'text' ? [i.text] : []));
      const textVecs = texts.length ? await model.embedTexts(texts) : [];
      checkVectors(textVecs, texts.length, model.dimensions, 'embedTexts');
      const imageVecs = images.length ? await model.embedImages(images) : [];
      checkVectors(imageVecs, images.length, model.dimensions, 'embedImages');
      let t = 0;
      let im = 0;
      return req.inputs.map((i) => (i.kind === 'text' ? textVecs[t++]! : imageVecs[im++]!));
    },
  );
  const texts = req.inputs.flatMap((i) => (i.kind === 'text' ? [i.text] : []));
  return Response.json(embeddingsResponse(entry.name, vectors, req.encoding, model.countTokens?.(texts, imageCount) ?? 0));
}

export async function handleClassify(raw: Request, ctx: ServeContext): Promise<Response> {
  const req = parseClassifyRequest(await readJsonBody(raw, ctx.limits.maxBodyBytes), ctx.limits);
  const entry = ctx.lookup(req.model);
  const model = embeddingModel(entry);
  const scores = await inSlot(
    raw,
    ctx,
    entry,
    () => resolveImage(req.image.url, req.image.param, ctx.imageLimits),
    (image) => model.classify(image, req.labels),
  );
  return Response.json(classifyResponse(entry.name, scores));
}
