// A decoder graph on an ORT session plus the TypeScript half of a forward pass: RoPE tables,
// masks, the KV cache. Models (llama.ts, sail.ts, ...) provide the DecoderSpec; this runs it.
import type { WeightStore } from '../io/checkpoint.js';
import { currentProgress, tracked } from './progress.js';
import { buildCacheCopyGraph, buildDecoderGraph, gqaSupports, type AttentionKind, type DecoderSpec } from '../nn/decoder.js';
import { createSession, ort, i64Tensor, type SessionOptions } from '../graph/session.js';
import { GpuKvCache, HeadMajorKvCache, KvCache, type KvStore } from './kv-cache.js';
import { buildMask } from './mask.js';
import { invFreq, ropeTables, type RopeConfig } from './rope.js';

export interface DecoderLMOptions extends SessionOptions {
  input: 'ids' | 'embeds';
  /** Full [B, S, V] logits (parity tests); otherwise only the last position's. */
  allLogits?: boolean;
  hiddenStates?: boolean;
  /** 'none': no norm/head, output `hidden` [B, S, D] (a stack feeding another decoder). */
  head?: 'logits' | 'none';
  /**
   * 'gqa' (CPU default): com.microsoft GroupQueryAttention + RotaryEmbedding with a head-major
   * cache. 'ops': attention from plain ONNX ops (always on WebGPU). Same results (parity suites
   * run both); gqa decode steps are 5–14% faster at T≈600 (bench/decode shapes), prefill the same.
   */
  attention?: AttentionKind;
  /**
   * 'gqa' only: KV cache element type, 'fp32' (default) or 'fp16' (half the cache and the kernel's
   * per-run copy of it, like llama.cpp's F16 cache; attention then runs in fp16, |Δ| ~5e-4). Not
   * the default: with q8 weights it flips the first greedy id of the mistral-tiny fixture (a
   * near-tie), which the quantized parity suite does not allow.
   */
  kvCache?: 'fp32' | 'fp16';
}

/** State of a batch of sequences: cache, padding and next positions per row. */
export interface SeqState {
  cache: KvStore;
  /** Left-padding slots per row (masked as keys forever). */
  leftPad: number[];
  /** Next RoPE position per row (scalar positions; M-RoPE prefixes set this after prefill). */
  nextPos: number[];
}

export interface ForwardInput {
  ids?: number[][];
  /** [B, S, D] float32 when the graph takes embeddings. */
  embeds?: Float32Array;
  seq: number;
  /** Explicit RoPE tables [B, S, half] (multi-axis positions); default from scalar positions. */
  rope?: { cos: Float32Array; sin: Float32Array };
  /** Explicit scalar positions [B][S]; default nextPos + 0..S-1 (clamped at 1 for padding, unused). */
  positions?: number[][];
  /** First `prefix` tokens attend bidirectionally (SAIL's image prefix). */
  prefix?: number;
}

/**
 * 'gqa' on CPU unless asked otherwise, where ORT's kernel takes the shape (head_dim a multiple of
 * 8); WebGPU keeps its cache on the device with 'ops'.
 */
function attentionFor(opts: DecoderLMOptions, spec: DecoderSpec): AttentionKind {
  if (opts.device === 'webgpu' || !gqaSupports(spec)) return 'ops';
  return opts.attention ?? 'gqa';
}

export class DecoderLM {
  private constructor(
    readonly spec: DecoderSpec,
    readonly rope: RopeConfig,
    readonly session: ort.InferenceSession,
    readonly opts: DecoderLMOptions,
    readonly slidingWindow: number | undefined,
    /** Element type of the head-major cache ('gqa'). */
    readonly kvDtype: 'float32' | 'float16' = 'float32',
  ) {}

  private copier: ort.InferenceSession | undefined;

  /** The attention graph in use ('gqa' only on CPU). */
  get attention(): AttentionKind {
    return attentionFor(this.opts, this.spec);
  }

  static async create(store: WeightStore, spec: DecoderSpec, rope: RopeConfig, opts: DecoderLMOptions, slidingWindow?: number): Promise<DecoderLM> {
    // On WebGPU the cache stays on the device: the graph returns whole present key/values there.
    const gpu = opts.device === 'webgpu';
    const attention = attentionFor(opts, spec);
    const kvDtype = attention === 'gqa' && opts.kvCache === 'fp16' ? 'float16' : 'float32';
    const graph = buildDecoderGraph(store, spec, { input: opts.input, lastLogitsOnly: !opts.allLogits, hiddenStates: opts.hiddenStates, head: opts.head, cacheOutputs: gpu ? 'present' : 'new', attention, kvDtype });
    const gpuOutputs = gpu ? Array.from({ length: spec.numLayers }, (_, i) => [`present_key.${i}`, `present_value.${i}`]).flat() : undefined;
    const session = await createSession(graph, { ...opts, gpuOutputs });
    return new DecoderLM(spec, rope, session, opts, slidingWindow ?? undefined, kvDtype);
  }

  private async copyOnGpu(t: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
    if (!this.copier) {
      const names = Array.from({ length: this.spec.numLayers }, (_, i) => [`copy_key.${i}`, `copy_value.${i}`]).flat();
      this.copier = await createSession(buildCacheCopyGraph(this.spec), { device: 'webgpu', gpuOutputs: names });
    }
    return this.copier.run(t);
  }

  newState(batch: number, leftPad?: number[], capacity = 64): SeqState {
    const pad = leftPad ?? new Array(batch).fill(0);
    const { numLayers, numKvHeads, headDim } = this.spec;
    return {
      cache: this.opts.device === 'webgpu'
        ? new GpuKvCache(numLayers, batch, numKvHeads, headDim, (t) => this.copyOnGpu(t))
        : this.attention === 'gqa'
          ? new HeadMajorKvCache(numLayers, batch, numKvHeads, headDim, capacity, this.kvDtype)
          : new KvCache(numLayers, batch, numKvHeads, headDim, capacity),
      leftPad: pad,
      // A row's first real token (after its padding) gets position 0.
      nextPos: pad.map((p) => -p),
    };
  }

  /** One forward over `seq` new tokens per row; appends to the cache; returns all outputs. */
  async forward(state: SeqState, inp: ForwardInput): Promise<Record<string, ort.Tensor>> {
    const B = state.cache.batch, S = inp.seq, past = state.cache.length;
    const feeds: Record<string, ort.Tensor> = state.cache.feeds();
    if (this.opts.input === 'ids') {
      if (!inp.ids) throw new Error('this decoder takes token ids');
      feeds.input_ids = i64Tensor(inp.ids.flat(), [B, S]);
    } else {
      if (!inp.embeds) throw new Error('this decoder takes inputs_embeds');
      feeds.inputs_embeds = new ort.Tensor('float32', inp.embeds, [B, S, this.spec.hiddenSize]);
    }
    let positions = inp.positions;
    if (!positions) {
      positions = state.nextPos.map((p, b) => Array.from({ length: S }, (_, s) => {
        // Padding slots get position 1 like transformers' generate; they are masked anyway.
        const abs = past + s;
        return abs < state.leftPad[b]! ? 1 : p + s;
      }));
    }
    let rope = inp.rope;
    if (!rope) {
      const maxPos = Math.max(...positions.flat());
      rope = ropeTables(invFreq(this.rope, maxPos + 1), positions);
    }
    const half = this.spec.headDim / 2;
    feeds.rope_cos = new ort.Tensor('float32', rope.cos, [B, S, half]);
    feeds.rope_sin = new ort.Tensor('float32', rope.sin, [B, S, half]);
    const mask = buildMask({ batch: B, past, seq: S, leftPad: state.leftPad, prefix: inp.prefix, slidingWindow: this.slidingWindow });
    feeds.attention_mask = new ort.Tensor('float32', mask, [B, 1, S, past + S]);
    // A prompt (several positions) can take seconds: it is reported as prefill progress.
    if (this.attention === 'gqa') {
      // Every row holds `past` slots (left padding is masked, not skipped).
      feeds.seqlens_k = new ort.Tensor('int32', new Int32Array(B).fill(past + S - 1), [B]);
      feeds.total_sequence_length = new ort.Tensor('int32', Int32Array.of(past + S), [1]);
    }
    // GroupQueryAttention refuses several rows of several tokens after a past: one row at a time.
    const byRow = this.attention === 'gqa' && B > 1 && S > 1 && past > 0;
    const run = () => (byRow ? this.runByRow(state.cache as HeadMajorKvCache, feeds) : this.session.run(feeds));
    const out = S > 1 ? await tracked(currentProgress(), { stage: 'prefill', total: B * S, unit: 'tokens', message: `${B * S} tokens` }, run) : await run();
    state.cache.append(out, S);
    for (let b = 0; b < B; b++) {
      const last = positions[b]![S - 1]!;
      state.nextPos[b] = Math.max(state.nextPos[b]!, last + 1);
    }
    return out;
  }

  /** Runs each row as a batch of one (its cache rows are views) and stacks the outputs. */
  private async runByRow(cache: HeadMajorKvCache, feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
    const B = cache.batch;
    const row = (t: ort.Tensor, b: number) => {
      const n = (t.data as ArrayLike<unknown>).length / B;
      return new ort.Tensor(t.type as 'float32', (t.data as Float32Array).subarray(b * n, (b + 1) * n), [1, ...t.dims.slice(1)]); // int64 ids and int32 lengths alike
    };
    const outs: Record<string, ort.Tensor>[] = [];
    for (let b = 0; b < B; b++) {
      const f: Record<string, ort.Tensor> = {};
      for (const [k, t] of Object.entries(feeds)) if (!k.startsWith('past_') && k !== 'total_sequence_length') f[k] = row(t, b);
      outs.push(await this.session.run({ ...f, ...cache.rowFeeds(b, b + 1), total_sequence_length: feeds.total_sequence_length! }));
    }
    const stacked: Record<string, ort.Tensor> = {};
    for (const k of Object.keys(outs[0]!)) {
      const parts = outs.map((o) => o[k]!.data as Float32Array); // (or Uint16Array: an fp16 cache's new entries)
      const data = new (parts[0]!.constructor as Float32ArrayConstructor)(parts.reduce((a, p) => a + p.length, 0));
      parts.reduce((off, p) => (data.set(p, off), off + p.length), 0);
      stacked[k] = new ort.Tensor(outs[0]![k]!.type as 'float32', data, [B, ...outs[0]![k]!.dims.slice(1)]);
    }
    return stacked;
  }

  /** Logits of the last position per row: [B][V] views. */
  lastLogits(out: Record<string, ort.Tensor>): Float32Array[] {
    const t = out.logits!;
    const data = t.data as Float32Array;
    const [B, S, V] = t.dims as number[];
    return Array.from({ length: B! }, (_, b) => data.subarray((b * S! + S! - 1) * V!, (b * S! + S!) * V!));
  }

  async release(): Promise<void> {
    await this.copier?.release();
    await this.session.release();
  }
}
