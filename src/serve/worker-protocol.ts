// What the model worker (model-worker.ts) and its proxy (worker-model.ts) share.

export interface SerializedError {
  name: string;
  message: string;
}

export const serializeError = (e: unknown): SerializedError =>
  e instanceof Error ? { name: e.name, message: e.message } : { name: 'Error', message: String(e) };

/** The data properties of a model a caller can read (functions are proxied separately). */
export const MODEL_PROPS = ['kind', 'info', 'dimensions', 'maxImages', 'drawsImages', 'rendersImages', 'codesPerImage', 'codebookSize', 'embeddingShape'] as const;

/** Methods that answer synchronously: a worker cannot serve them, so the proxy leaves them out. */
export const SYNC_METHODS = ['countCompletionTokens', 'countTokens'];

/** Methods that return a ChatStream: run as streams (events, progress and result cross as messages). */
export const STREAM_METHODS = ['chat', 'complete'];

