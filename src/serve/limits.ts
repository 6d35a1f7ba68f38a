// Server limits: what one request may ask for. Defaults suit a single-user local server; every
// limit is enforced before the model runs so no request can exhaust memory or hold a model forever.

export interface Limits {
  /** Largest request body (JSON including base64 images). Over it → 413. */
  maxBodyBytes: number;
  /** Largest image (width × height, from the header, before decoding). Over it → 413. */
  maxImagePixels: number;
  /** Most images in one request (a model's own `maxImages` can lower it). Over it → 400. */
  maxImagesPerRequest: number;
  /** Largest `max_tokens` a client may ask for. Over it → 400. */
  maxTokensCap: number;
  /** `max_tokens` used when the client gives none (never above maxTokensCap). */
  defaultMaxTokens: number;
  /** Requests waiting per model behind the one running. Beyond it → 429. */
  queueSize: number;
  /** Most inputs in one /v1/embeddings request. */
  maxEmbeddingInputs: number;
  /** Most labels in one /v1/classify request. */
  maxLabels: number;
  /** Most stop strings in one request. */
  maxStopSequences: number;
  /** Images a drawing model (SEED-LLaMA) renders per request (each is a diffusion run); later ones come back as codes. */
  maxDrawnImages: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxBodyBytes: 32 * 1024 * 1024,
  maxImagePixels: 25_000_000,
  maxImagesPerRequest: 8,
  maxTokensCap: 4096,
  defaultMaxTokens: 256,
  queueSize: 8,
  maxEmbeddingInputs: 256,
  maxLabels: 100,
  maxStopSequences: 16,
  maxDrawnImages: 4,
});

/** Fills defaults and checks that every limit is a positive integer (queueSize may be 0). */
export function resolveLimits(partial: Partial<Limits> = {}): Limits {
  const limits: Limits = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(partial) as Array<[keyof Limits, number | undefined]>) {
    if (value === undefined) continue;
    if (!(key in DEFAULT_LIMITS)) throw new Error(`unknown server limit "${key}"`);
    const min = key === 'queueSize' ? 0 : 1;
    if (!Number.isSafeInteger(value) || value < min) {
      throw new Error(`server limit ${key} must be an integer >= ${min} (got ${value})`);
    }
    limits[key] = value;
  }
  limits.defaultMaxTokens = Math.min(limits.defaultMaxTokens, limits.maxTokensCap);
  return limits;
}
