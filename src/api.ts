// Public types of the library API. The CLI and the server see models only through these
// interfaces (no model-specific branches there).

/** An image: a file path, encoded bytes (PNG/JPEG/WebP/GIF), or decoded RGB pixels. */
export type ImageInput = string | Uint8Array | DecodedImage;

/** Decoded pixels, HWC uint8, RGB (channels 3). */
export interface DecodedImage {
  width: number;
  height: number;
  channels: 3;
  data: Uint8Array;
}

export type Device = 'cpu' | 'webgpu';

export interface Progress {
  /** e.g. 'load', 'graph', 'session', 'quantize' */
  stage: string;
  done: number;
  total: number;
  /** What done/total count: bytes (downloads, weights), tokens (prefill); steps when absent. */
  unit?: 'bytes' | 'tokens';
  message?: string;
  /** Time spent in this step so far (steps that report no amounts tick with it). */
  elapsedMs?: number;
}

export interface LoadOptions {
  device?: Device;
  /** Called during long work (loading weights, building graphs, creating sessions). */
  onProgress?: (p: Progress) => void;
  /** Name under which the model is reported (defaults to the folder name). */
  name?: string;
  /** For a Hugging Face repo id: the branch, tag or commit (default "main"). */
  revision?: string;
  /** Download a repo id missing from the Hugging Face cache (default true; false or HF_HUB_OFFLINE=1: cache only). */
  download?: boolean;
}

export interface ModelInfo {
  /** The HF model_type of the checkpoint (e.g. 'siglip', 'sail'). */
  modelType: string;
  name: string;
  dir: string;
  device: Device;
  /** Longest sequence the model accepts (prompt + generated tokens), when it has one. */
  contextLength?: number;
}

export type ChatPart = { type: 'text'; text: string } | { type: 'image'; image: ImageInput };

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string | ChatPart[];
}

export interface GenerationOptions {
  /** Default: the model's own default (e.g. 256). */
  maxNewTokens?: number;
  /** 0 or undefined → greedy (unless other sampling options are set, then 1). */
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repetitionPenalty?: number;
  seed?: number;
  /** Generation stops when one of these strings appears; it is not part of the returned text. */
  stop?: string[];
  signal?: AbortSignal;
  /**
   * Downsize each image to at most this many pixels (width × height) before the model reads it:
   * fewer image tokens, or more than the checkpoint's preprocessor allows. Default: the
   * checkpoint's preprocessor limit. Either way an image never takes the context a reply needs.
   */
  maxImagePixels?: number;
  /** Called during long prompt processing (stage "prefill", unit tokens). */
  onProgress?: (p: Progress) => void;
}

export type FinishReason = 'stop' | 'length' | 'abort';

export interface GenerationResult {
  text: string;
  /** Generated token ids only (not the prompt). */
  tokenIds: number[];
  promptTokens: number;
  completionTokens: number;
  finishReason: FinishReason;
}

/** Async-iterates text deltas; `result` resolves when generation ends (also when aborted). */
export interface ChatStream extends AsyncIterable<string> {
  readonly result: Promise<GenerationResult>;
}

export interface ChatModel {
  readonly kind: 'chat';
  readonly info: ModelInfo;
  /** At most this many images per request (undefined = no limit of the model's own). */
  readonly maxImages?: number;
  chat(messages: ChatMessage[], opts?: GenerationOptions): ChatStream;
  /** Number of prompt tokens a request would use (for limits and usage), without running the model. */
  countPromptTokens?(messages: ChatMessage[], opts?: GenerationOptions): Promise<number>;
  /** Continues raw text (no chat template), for text decoders (/v1/completions). */
  complete?(prompt: string, opts?: GenerationOptions): ChatStream;
  /** Number of tokens `complete(prompt)` reads. */
  countCompletionTokens?(prompt: string): number;
  dispose(): Promise<void>;
}

export interface LabelScore {
  label: string;
  /** Independent sigmoid probability (scores do not sum to 1). */
  score: number;
  logit: number;
}

export interface EmbeddingModel {
  readonly kind: 'embedding';
  readonly info: ModelInfo;
  readonly dimensions: number;
  /** L2-normalised image embeddings, one per image. */
  embedImages(images: ImageInput[]): Promise<Float32Array[]>;
  /** L2-normalised text embeddings, one per text. */
  embedTexts(texts: string[]): Promise<Float32Array[]>;
  /** Zero-shot classification: labels with sigmoid probabilities, highest first. */
  classify(image: ImageInput, labels: string[]): Promise<LabelScore[]>;
  /** Tokens these inputs amount to (for usage): each text's tokens, without padding, plus each image's patch tokens. */
  countTokens?(texts: string[], images: number): number;
  dispose(): Promise<void>;
}

/**
 * An image tokenizer (SEED): images → discrete codes, codes → the embedding a generator consumes.
 * Needs no text tokenizer.
 */
export interface ImageTokenizer {
  readonly kind: 'image-tokenizer';
  readonly info: ModelInfo;
  /** Codes per image (SEED: 32). */
  readonly codesPerImage: number;
  /** Codes are integers in [0, codebookSize) (SEED: 8192). */
  readonly codebookSize: number;
  /** Shape of one decoded embedding (SEED v2: [1024], the unCLIP image embedding; v1: [77, 768]). */
  readonly embeddingShape: readonly number[];
  /** One list of `codesPerImage` codes per image, in order. */
  encode(images: ImageInput[]): Promise<number[][]>;
  /** One embedding per code list (row-major `embeddingShape`). */
  decode(codes: number[][]): Promise<Float32Array[]>;
  dispose(): Promise<void>;
}

export type Model = ChatModel | EmbeddingModel | ImageTokenizer;

/** Errors caused by the caller's input (bad image, unknown token, oversized request). */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}
