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
  /**
   * Models that read and write images as tokens (SEED-LLaMA): the image tokenizer, as a loaded
   * model or a checkpoint folder. Its LLaMA tokenizer files carry the image tokens.
   */
  imageTokenizer?: ImageTokenizer | string;
  /**
   * Turns drawn images (embeddings from the image tokenizer) into pixels: a renderer, or a
   * diffusers folder (SEED v2: Stable unCLIP 2.1; v1: SD 1.x). Without it a model that draws
   * returns the codes of its images only.
   */
  imageRenderer?: ImageRenderer | string;
  /** Called during long work (loading weights, building graphs, creating sessions). */
  onProgress?: (p: Progress) => void;
  /** Name under which the model is reported (defaults to the folder name). */
  name?: string;
  /**
   * How weights are held at run time: 'fp32' (16-bit checkpoints are widened to fp32), 'fp16',
   * or 'q8' / 'q4' (blockwise int8 / int4 Linear weights through ONNX Runtime's MatMulNBits,
   * embeddings through GatherBlockQuantized). Converted weights are cached on disk (TSVLM_CACHE or
   * the platform cache folder), so only the first load converts. Default by size: fp32 up to
   * 1.5 G parameters, q8 up to 3 G, q4 above (7B/8B checkpoints then fit a 16 GB machine).
   */
  dtype?: WeightDType;
  /** q8/q4 only: MatMulNBits accuracy_level, 4 (default: int8 activations, fast) or 0 (float32 compute). */
  accuracyLevel?: 0 | 4;
  /**
   * q8/q4 only: quantization block along K (default 32 up to 3 G parameters, 64 above: see
   * `defaultBlockSize`). 64 halves the scale overhead (q4: 4.5
   * instead of 5.1 bits per weight; a 7B model's peak memory 4.9 instead of 6.2 GiB) at some accuracy.
   */
  quantBlockSize?: 32 | 64 | 128;
  /**
   * Decoder attention on CPU: 'gqa' (default: ONNX Runtime's fused GroupQueryAttention with a
   * head-major KV cache) or 'ops' (plain ONNX ops). Same results; WebGPU always uses 'ops'.
   */
  attention?: 'ops' | 'gqa';
  /** Folder for converted weights (default: TSVLM_CACHE, else the platform cache dir + /tsvlm). */
  cacheDir?: string;
  /** For a Hugging Face repo id: the branch, tag or commit (default "main"). */
  revision?: string;
  /** Download a repo id missing from the Hugging Face cache (default true; false or HF_HUB_OFFLINE=1: cache only). */
  download?: boolean;
}

export type WeightDType = 'fp32' | 'fp16' | 'q8' | 'q4';

export interface ModelInfo {
  /** The HF model_type of the checkpoint (e.g. 'siglip', 'sail'). */
  modelType: string;
  name: string;
  dir: string;
  device: Device;
  /** Longest sequence the model accepts (prompt + generated tokens), when it has one. */
  contextLength?: number;
}

/**
 * An image in a message. `codes`: the image's discrete tokens when they are known already (an
 * image a token-drawing model such as SEED-LLaMA produced earlier): used as they are, no re-encoding.
 */
export type ChatPart = { type: 'text'; text: string } | { type: 'image'; image: ImageInput; codes?: number[] };

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
  /** Models that draw (`ChatModel.drawsImages`): start the reply with an image ("draw now"). */
  forceImage?: boolean;
  /** Models that draw: render at most this many images of the reply (later ones come back as codes). */
  maxImages?: number;
  /** Models that draw: end the reply once this many images are complete. */
  stopAfterImages?: number;
  /** Most tiles per image for models that tile images (HoVLE's max_num; default from the checkpoint). */
  maxTiles?: number;
  /**
   * Downsize each image to at most this many pixels (width × height) before the model reads it:
   * fewer image tokens, or more than the checkpoint's preprocessor allows. Default: the
   * checkpoint's preprocessor limit. Either way an image never takes the context a reply needs.
   */
  maxImagePixels?: number;
  /** Progress of long work inside a request: prompt processing (stage "prefill", unit tokens), drawn images (diffusion steps). */
  onProgress?: (p: Progress) => void;
}

export type FinishReason = 'stop' | 'length' | 'abort';

/** An image a model drew as tokens: its codes, and its pixels when a renderer was given. */
export interface GeneratedImage {
  /** Order among the images of this reply (0-based). */
  index: number;
  codes: number[];
  image?: DecodedImage;
  /** Set when the span was malformed (wrong length, code out of range, never closed). */
  error?: string;
}

/** What a chat stream carries in order: text deltas and (for models that draw) finished images. */
export type ChatEvent = { type: 'text'; text: string } | { type: 'image'; image: GeneratedImage };

/** Renders drawn images: embeddings of the image tokenizer → RGB pixels (SEED: unCLIP). */
export interface ImageRenderer {
  render(embeddings: Float32Array[], opts?: { signal?: AbortSignal; onProgress?: (p: Progress) => void; seed?: number }): Promise<DecodedImage[]>;
  dispose?(): Promise<void>;
}

export interface GenerationResult {
  text: string;
  /** Generated token ids only (not the prompt). */
  tokenIds: number[];
  promptTokens: number;
  completionTokens: number;
  finishReason: FinishReason;
  /** Images the model drew, in order (models that write images as tokens only). */
  images?: GeneratedImage[];
  /** Codes of the images in the prompt, in order (models that read images as codes). */
  promptImageCodes?: number[][];
}

/**
 * Async-iterates text deltas; `result` resolves when generation ends (also when aborted).
 * Models that draw also offer `events()`: text deltas and images in order (iterate one or the other).
 */
export interface ChatStream extends AsyncIterable<string> {
  readonly result: Promise<GenerationResult>;
  events?(): AsyncIterable<ChatEvent>;
}

export interface ChatModel {
  readonly kind: 'chat';
  readonly info: ModelInfo;
  /** At most this many images per request (undefined = no limit of the model's own; 0 = reads no images). */
  readonly maxImages?: number;
  /** True for models that write images as tokens (their streams offer `events()`). */
  readonly drawsImages?: boolean;
  /** True when drawn images come back as pixels (a renderer is loaded), not only as codes. */
  readonly rendersImages?: boolean;
  chat(messages: ChatMessage[], opts?: GenerationOptions): ChatStream;
  /** Number of prompt tokens a request would use (for limits and usage), without running the model. */
  countPromptTokens?(messages: ChatMessage[], opts?: GenerationOptions): Promise<number>;
  /**
   * Continues a raw prompt, no chat template (/v1/completions; SEED's demo API): text, or text and
   * images in order for models that read images in raw prompts (SEED-LLaMA). The prompt markup is
   * the caller's.
   */
  complete?(prompt: string | ChatPart[], opts?: GenerationOptions): ChatStream;
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
  /** Labels that fit this model, e.g. for a classification form (from the folder's tsvlm.json `example_labels`). */
  readonly exampleLabels?: string[];
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
