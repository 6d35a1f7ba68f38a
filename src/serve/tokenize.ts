// Extension endpoints for image tokenizers (SEED):
//   POST /v1/images/tokenize   {model, images: [url | {url} | {image_url: {url}}]} → {data: [{index, codes}]}
//   POST /v1/images/detokenize {model, codes: number[][]} → {data: [{index, embedding}], shape}
// Images follow the server's image conventions (data: URLs; file:// inside --image-dir).
import type { DecodedImage, ImageTokenizer } from '../api.js';
import { InputError } from '../api.js';
import { readJsonBody } from './body.js';
import type { ModelEntry, ServeContext } from './context.js';
import { badRequest } from './errors.js';
import { inSlot } from './embeddings.js';
import { resolveImage } from './images.js';
import { isObject, requireObject, requireString } from './validate.js';

function tokenizerModel(entry: ModelEntry): ImageTokenizer {
  if (entry.model.kind !== 'image-tokenizer') {
    throw badRequest(`model "${entry.name}" is not an image tokenizer (${entry.model.kind}); use the endpoint for its kind (see /v1/models)`, 'model', 'wrong_model_kind');
  }
  return entry.model;
}

function imageUrl(item: unknown, param: string): string {
  if (typeof item === 'string') return requireString(item, param, { nonEmpty: true });
  if (isObject(item)) {
    if (typeof item.url === 'string') return requireString(item.url, `${param}.url`, { nonEmpty: true });
    const iu = item.image_url;
    if (typeof iu === 'string') return requireString(iu, `${param}.image_url`, { nonEmpty: true });
    if (isObject(iu)) return requireString(iu.url, `${param}.image_url.url`, { nonEmpty: true });
  }
  throw badRequest(`${param} must be an image URL string (data:image/...;base64,...) or {url}`, param);
}

/** Runs the model call; the model's InputErrors (bad codes) become 400s naming `param`. */
async function asBadRequest<T>(param: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if (err instanceof InputError) throw badRequest(err.message, param, 'invalid_input');
    throw err;
  }
}

export async function handleImageTokenize(raw: Request, ctx: ServeContext): Promise<Response> {
  const body = requireObject(await readJsonBody(raw, ctx.limits.maxBodyBytes), 'body');
  const entry = ctx.lookup(requireString(body.model, 'model', { nonEmpty: true, maxLength: 512 }));
  const model = tokenizerModel(entry);
  const list = typeof body.images === 'string' ? [body.images] : body.images;
  if (!Array.isArray(list) || list.length === 0) throw badRequest('images must be a non-empty array of image URLs', 'images');
  if (list.length > ctx.limits.maxImagesPerRequest) {
    throw badRequest(`the request has ${list.length} images; at most ${ctx.limits.maxImagesPerRequest} are allowed`, 'images', 'too_many_images');
  }
  const urls = list.map((item, i) => imageUrl(item, `images[${i}]`));
  const codes = await inSlot(
    raw,
    ctx,
    entry,
    async (signal) => {
      const images: DecodedImage[] = [];
      for (let i = 0; i < urls.length; i++) {
        signal.throwIfAborted();
        images.push(await resolveImage(urls[i]!, `images[${i}]`, ctx.imageLimits));
      }
      return images;
    },
    (images) => asBadRequest('images', () => model.encode(images)),
  );
  return Response.json({
    object: 'list',
    model: entry.name,
    codes_per_image: model.codesPerImage,
    codebook_size: model.codebookSize,
    data: codes.map((c, index) => ({ object: 'image_codes', index, codes: c })),
  });
}

export async function handleImageDetokenize(raw: Request, ctx: ServeContext): Promise<Response> {
  const body = requireObject(await readJsonBody(raw, ctx.limits.maxBodyBytes), 'body');
  const entry = ctx.lookup(requireString(body.model, 'model', { nonEmpty: true, maxLength: 512 }));
  const model = tokenizerModel(entry);
  const codes = body.codes;
  if (!Array.isArray(codes) || codes.length === 0) throw badRequest('codes must be a non-empty array of code lists', 'codes');
  if (codes.length > ctx.limits.maxImagesPerRequest) {
    throw badRequest(`the request has ${codes.length} code lists; at most ${ctx.limits.maxImagesPerRequest} are allowed`, 'codes', 'too_many_images');
  }
  const embeddings = await inSlot(raw, ctx, entry, async () => undefined, () => asBadRequest('codes', () => model.decode(codes as number[][])));
  return Response.json({
    object: 'list',
    model: entry.name,
    shape: model.embeddingShape,
    data: embeddings.map((e, index) => ({ object: 'generation_embedding', index, embedding: Array.from(e) })),
  });
}
