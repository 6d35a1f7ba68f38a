// The decoder-only transformer shared by every LLM (Llama, Mistral, Qwen2, InternLM2) and VLM
// (SAIL, HoVLE, SEED-LLaMA): pre-RMSNorm, rotate-half RoPE from cos/sin inputs, grouped-query
// attention with an additive mask input, SwiGLU MLP. Positions, masks and RoPE tables are computed
// in TypeScript (src/generate/) and enter as inputs, so prefix-bidirectional masks, left padding
// and 3-axis M-RoPE need nothing special here.
//
// Graph I/O (B batch, S new tokens, P cached tokens, T = P + S, half = head_dim / 2):
//   in  input_ids [B, S] int64  | inputs_embeds [B, S, D]
//       rope_cos, rope_sin [B, S, half]      attention_mask [B, 1, S, T] (0 or -inf)
//       past_key.i, past_value.i [P, B, KV, hd]  (time-major: a prefix of a preallocated buffer)
//   out logits [B, S, V] (or [B, 1, V] with lastLogitsOnly)
//       new_key.i, new_value.i [S, B, KV, hd]  (only the new entries; the cache appends them)
//       or present_key.i, present_value.i [T, B, KV, hd] (WebGPU: kept on the device)
// With attention 'gqa' (CPU) the cache is head-major and attention is one com.microsoft
// GroupQueryAttention per layer (RoPE: one RotaryEmbedding per tensor reading our tables, so M-RoPE
// works; the mask enters as its attention_bias with causal=0, so prefix-bidirectional masks, left
// padding and sliding windows work unchanged):
//   in  past_key.i, past_value.i [B, KV, M, hd]  (the whole preallocated buffer; the first P slots
//       per head are valid: seqlens_k [B] int32 = P + S - 1, total_sequence_length [1] int32 = P + S)
//   out new_key.i, new_value.i [B, KV, S, hd]  (the cache writes them at slot P)
// ORT 1.30 CPU facts this relies on (checked against the plain-op graph): attention_bias
// [B, 1, S, T] with causal=0 works with and without a past; a past longer than P is fine (only
// seqlens_k counts); B > 1 with S > 1 and a past is refused ("batch_size must be 1 when
// sequence_length > 1 and past context is given": DecoderLM runs such steps row by row); head_dim
// must be a multiple of 8 (DecoderLM uses 'ops' otherwise).
// present_key is left unused: fetching it (even into the past buffer) copies the whole buffer
// into a new JS array every step, which costs more than the kernel's own internal copy.
import { Graph, type Value } from '../graph/builder.js';
import { GraphWeights } from './weights.js';
import { activation, linear, rmsNorm, flatten2d } from './layers.js';
import type { WeightStore } from '../io/checkpoint.js';

export interface DecoderLayerNames {
  inputNorm: string;
  postNorm: string;
  /** Separate q/k/v projections (prefixes without .weight) ... */
  q?: string;
  k?: string;
  v?: string;
  /** ... or InternLM2's packed wqkv: rows grouped per kv head as [q × G, k, v] × head_dim. */
  qkvPacked?: string;
  o: string;
  gate: string;
  up: string;
  down: string;
}

export interface DecoderSpec {
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  vocabSize: number;
  rmsNormEps: number;
  hiddenAct: string;
  names: {
    embed: string;
    layer: (i: number) => DecoderLayerNames;
    norm: string;
    /** lm_head weight name (the embedding matrix when tied). */
    lmHead: string;
  };
}

export interface DecoderGraphOptions {
  /** 'ids' gathers embeddings inside the graph; 'embeds' takes inputs_embeds (VLMs). */
  input: 'ids' | 'embeds';
  /** Only the last position's logits (prefill does not need the rest). */
  lastLogitsOnly?: boolean;
  /** Also output hidden.embeddings, hidden.layer.i, hidden.final_norm (parity tests). */
  hiddenStates?: boolean;
  /** 'new' (CPU cache appends new_key.i) or 'present' (whole present_key.i, kept on the GPU). */
  cacheOutputs?: 'new' | 'present';
  /**
   * 'logits' (default): final norm + lm head. 'none': the last layer's output as `hidden` [B, S, D]
   * for every position, no norm, no head (HoVLE's embedding layers feed another decoder).
   */
  head?: 'logits' | 'none';
  /** 'ops' (default): plain ONNX ops, time-major cache. 'gqa': GroupQueryAttention, head-major cache (CPU). */
  attention?: AttentionKind;
  /**
   * 'gqa' only: cache element type. 'float16' halves the cache and the kernel's per-run copy of it
   * (attention then runs in fp16: |Δ| ~5e-4 on unit-scale inputs, so only for quantized weights).
   */
  kvDtype?: 'float32' | 'float16';
}

export type AttentionKind = 'ops' | 'gqa';

/** Whether ORT 1.30's CPU GroupQueryAttention takes this shape (it refuses head_dim % 8 ≠ 0 at run time). */
export function gqaSupports(s: DecoderSpec): boolean {
  return s.headDim % 8 === 0;
}

/** Checks the checkpoint against the spec (names and shapes) with one clear error. */
export function expectDecoderWeights(store: WeightStore, s: DecoderSpec, head: 'logits' | 'none' = 'logits'): void {
  // Layer count first. The layers' prefix is what layer 0's and layer 1's names share before the
  // index ("model.layers.0.…" / "model.layers.1.…" → "model.layers").
  const [n0, n1] = [s.names.layer(0).inputNorm, s.names.layer(1).inputNorm];
  let cut = 0;
  while (cut < n0.length && n0[cut] === n1[cut]) cut++;
  if (n0.slice(cut).startsWith('0.') && n0[cut - 1] === '.') store.expectLayerCount(n0.slice(0, cut - 1), s.numLayers, 'num_hidden_layers');
  const D = s.hiddenSize, hd = s.headDim;
  const shapes: Record<string, number[]> = head === 'none' ? {} : {
    [s.names.embed]: [s.vocabSize, D],
    [s.names.norm]: [D],
    [s.names.lmHead]: [s.vocabSize, D],
  };
  for (let i = 0; i < s.numLayers; i++) {
    const n = s.names.layer(i);
    shapes[n.inputNorm] = [D];
    shapes[n.postNorm] = [D];
    if (n.qkvPacked) shapes[`${n.qkvPacked}.weight`] = [(s.numHeads + 2 * s.numKvHeads) * hd, D];
    else {
      shapes[`${n.q}.weight`] = [s.numHeads * hd, D];
      shapes[`${n.k}.weight`] = [s.numKvHeads * hd, D];
      shapes[`${n.v}.weight`] = [s.numKvHeads * hd, D];
    }
    shapes[`${n.o}.weight`] = [D, s.numHeads * hd];
    shapes[`${n.gate}.weight`] = [s.intermediateSize, D];
    shapes[`${n.up}.weight`] = [s.intermediateSize, D];
    shapes[`${n.down}.weight`] = [D, s.intermediateSize];
  }
  store.expect(shapes);
}

/** Rotate-half RoPE on x [B, S, N, hd] with cos/sin [B, S, 1, half]. */
function rope(g: Graph, x: Value, cos: Value, sin: Value, half: number): Value {
  const x1 = g.op('Slice', [x, g.ints([0]), g.ints([half]), g.ints([-1])]);
  const x2 = g.op('Slice', [x, g.ints([half]), g.ints([2 * half]), g.ints([-1])]);
  const a = g.op('Sub', [g.op('Mul', [x1, cos]), g.op('Mul', [x2, sin])]);
  const b = g.op('Add', [g.op('Mul', [x2, cos]), g.op('Mul', [x1, sin])]);
  return g.op('Concat', [a, b], { axis: -1 });
}

export function buildDecoderGraph(store: WeightStore, s: DecoderSpec, opts: DecoderGraphOptions): Graph {
  expectDecoderWeights(store, s, opts.head);
  const g = new Graph('decoder');
  const w = new GraphWeights(g, store);
  const D = s.hiddenSize, H = s.numHeads, KV = s.numKvHeads, hd = s.headDim, G = H / KV, half = hd / 2;
  if (!Number.isInteger(G)) throw new Error(`num_attention_heads ${H} is not a multiple of num_key_value_heads ${KV}`);

  let emb: Value;
  let bs: Value; // [B, S]
  if (opts.input === 'ids') {
    const ids = g.input('input_ids', 'int64', ['batch', 'seq']);
    bs = g.op('Shape', [ids]);
    emb = w.gather(s.names.embed, ids);
  } else {
    emb = g.input('inputs_embeds', 'float32', ['batch', 'seq', D]);
    bs = g.op('Slice', [g.op('Shape', [emb]), g.ints([0]), g.ints([2])]);
  }
  const cosIn = g.input('rope_cos', 'float32', ['batch', 'seq', half]);
  const sinIn = g.input('rope_sin', 'float32', ['batch', 'seq', half]);

  const gqa = opts.attention === 'gqa';
  if (gqa && opts.cacheOutputs === 'present') throw new Error("attention 'gqa' keeps no present outputs (use 'ops' on WebGPU)");
  if (gqa && !gqaSupports(s)) throw new Error(`attention 'gqa': head_dim ${hd} is not a multiple of 8, which ONNX Runtime's GroupQueryAttention needs (use 'ops')`);
  const mask4 = g.input('attention_mask', 'float32', ['batch', 1, 'seq', 'total']); // [B,1,S,T]
  const mask = gqa ? mask4 : g.op('Unsqueeze', [mask4, g.ints([2])]); // [B,1,1,S,T]
  const seqlensK = gqa ? g.input('seqlens_k', 'int32', ['batch']) : undefined;
  const totalLen = gqa ? g.input('total_sequence_length', 'int32', [1]) : undefined;
  // [B, S, ...tail] shape tensors, one node per distinct tail.
  const shapes = new Map<string, Value>();
  const shape = (tail: number[]) => {
    const key = tail.join(',');
    if (!shapes.has(key)) shapes.set(key, g.op('Concat', [bs, g.ints(tail)], { axis: 0 }));
    return shapes.get(key)!;
  };
  const scale = gqa ? undefined : g.scalar(1 / Math.sqrt(hd)); // (GroupQueryAttention scales by 1/√hd itself)

  const hidden: Value[] = [];
  let x = flatten2d(emb, D); // [B·S, D]
  hidden.push(x);
  // Plain ops: time-major cache [T, B, KV, hd]; grouped heads share K/V through broadcasting.
  const cos = gqa ? cosIn : g.op('Unsqueeze', [cosIn, g.ints([2])]); // [B,S,1,half]
  const sin = gqa ? sinIn : g.op('Unsqueeze', [sinIn, g.ints([2])]);
  const opsAttention = (i: number, q: Value, k: Value, v: Value): Value => {
    // New cache entries, time-major [S, B, KV, hd].
    const kNew = g.op('Transpose', [k], { perm: [1, 0, 2, 3] });
    const vNew = g.op('Transpose', [v], { perm: [1, 0, 2, 3] });
    const pk = g.input(`past_key.${i}`, 'float32', ['past', 'batch', KV, hd]);
    const pv = g.input(`past_value.${i}`, 'float32', ['past', 'batch', KV, hd]);
    const kAll = g.op('Concat', [pk, kNew], { axis: 0 }); // [T, B, KV, hd]
    const vAll = g.op('Concat', [pv, vNew], { axis: 0 });
    if (opts.cacheOutputs === 'present') {
      g.output(kAll, `present_key.${i}`);
      g.output(vAll, `present_value.${i}`);
    } else {
      g.output(kNew, `new_key.${i}`);
      g.output(vNew, `new_value.${i}`);
    }
    const kT = g.op('Unsqueeze', [g.op('Transpose', [kAll], { perm: [1, 2, 3, 0] }), g.ints([2])]); // [B,KV,1,hd,T]
    const vT = g.op('Unsqueeze', [g.op('Transpose', [vAll], { perm: [1, 2, 0, 3] }), g.ints([2])]); // [B,KV,1,T,hd]
    const qG = g.op('Transpose', [g.op('Reshape', [q, shape([KV, G, hd])])], { perm: [0, 2, 3, 1, 4] }); // [B,KV,G,S,hd]
    const scores = g.op('Add', [g.op('Mul', [g.op('MatMul', [qG, kT]), scale!]), mask]); // [B,KV,G,S,T]
    const probs = g.op('Softmax', [scores], { axis: -1 });
    const ctx = g.op('Transpose', [g.op('MatMul', [probs, vT])], { perm: [0, 3, 1, 2, 4] }); // [B,S,KV,G,hd]
    return flatten2d(ctx, H * hd);
  };
  // RoPE on the fused path: com.microsoft RotaryEmbedding, one node per tensor instead of nine. It
  // reads our per-token tables (any positions: M-RoPE, left padding) through position_ids that
  // point at each token's own row: cos_cache = rope_cos as [B·S, half], position_ids[b, s] = b·S + s.
  let fusedRope: ((t: Value, heads: number) => Value) | undefined;
  if (gqa) {
    const n = g.op('ReduceProd', [bs], { keepdims: 0 }); // B·S
    const idx = g.op('Reshape', [g.op('Range', [g.constant('int64', [], [0]), n, g.constant('int64', [], [1])]), bs]); // [B,S]
    const cosCache = g.op('Reshape', [cosIn, g.ints([-1, half])]);
    const sinCache = g.op('Reshape', [sinIn, g.ints([-1, half])]);
    fusedRope = (t, heads) => g.op('RotaryEmbedding', [t, idx, cosCache, sinCache], { num_heads: heads, interleaved: 0 }, 'com.microsoft');
  }
  // GroupQueryAttention: head-major cache [B, KV, M, hd] read in place; the new entries go out.
  // q [B,S,H·hd], k/v [B,S,KV·hd] before RoPE. With an fp16 cache q/k/v and the mask are cast
  // (the mask clamped to fp16's range first: -inf would turn fully masked padding rows into NaN).
  const f16 = gqa && opts.kvDtype === 'float16';
  const kvType = f16 ? 'float16' : 'float32';
  const half16 = (t: Value) => (f16 ? g.op('Cast', [t], { to: 10 }) : t); // to FLOAT16
  const gqaMask = f16 ? half16(g.op('Max', [mask, g.scalar(-65504)])) : mask;
  const fusedAttention = (i: number, q: Value, k: Value, v: Value): Value => {
    const qr = half16(fusedRope!(q, H));
    const kr = half16(fusedRope!(k, KV));
    const vv = half16(v);
    const bnsh = (t: Value) => g.op('Transpose', [g.op('Reshape', [t, shape([KV, hd])])], { perm: [0, 2, 1, 3] }); // [B,KV,S,hd]
    g.output(bnsh(kr), `new_key.${i}`, kvType);
    g.output(bnsh(vv), `new_value.${i}`, kvType);
    const pk = g.input(`past_key.${i}`, kvType, ['batch', KV, 'max', hd]);
    const pv = g.input(`past_value.${i}`, kvType, ['batch', KV, 'max', hd]);
    let [ctx] = g.opN('GroupQueryAttention', [qr, kr, vv, pk, pv, seqlensK!, totalLen!, null, null, null, gqaMask],
      { num_heads: H, kv_num_heads: KV, causal: 0 }, 3, 'com.microsoft'); // [B,S,H·hd]; present_key/value unused
    if (f16) ctx = g.op('Cast', [ctx!], { to: 1 }); // FLOAT
    return flatten2d(ctx!, H * hd);
  };
  for (let i = 0; i < s.numLayers; i++) {
    const n = s.names.layer(i);
    const h = rmsNorm(w, x, n.inputNorm, s.rmsNormEps);
    // q [B,S,H,hd], k/v [B,S,KV,hd] ('ops'), or heads flattened: [B,S,N·hd] ('gqa').
    const heads = (t: Value, count: number) => g.op('Reshape', [t, shape(gqa ? [count * hd] : [count, hd])]);
    let q: Value, k: Value, v: Value;
    if (n.qkvPacked) {
      const qkv = g.op('Reshape', [linear(w, h, n.qkvPacked), shape([KV, G + 2, hd])]);
      q = heads(g.op('Slice', [qkv, g.ints([0]), g.ints([G]), g.ints([3])]), H);
      k = heads(g.op('Slice', [qkv, g.ints([G]), g.ints([G + 1]), g.ints([3])]), KV);
      v = heads(g.op('Slice', [qkv, g.ints([G + 1]), g.ints([G + 2]), g.ints([3])]), KV);
    } else {
      q = heads(linear(w, h, n.q!), H);
      k = heads(linear(w, h, n.k!), KV);
      v = heads(linear(w, h, n.v!), KV);
    }
    const ctx = gqa ? fusedAttention(i, q, k, v) : opsAttention(i, rope(g, q, cos, sin, half), rope(g, k, cos, sin, half), v); // [B·S, H·hd]
    const attn = linear(w, ctx, n.o);
    x = g.op('Add', [x, attn]);
    const m = rmsNorm(w, x, n.postNorm, s.rmsNormEps);
    const ff = linear(w, g.op('Mul', [activation(g, linear(w, m, n.gate), s.hiddenAct), linear(w, m, n.up)]), n.down);
    x = g.op('Add', [x, ff]);
    hidden.push(x);
  }
  if (opts.head === 'none') {
    g.output(g.op('Reshape', [x, shape([D])]), 'hidden');
    if (opts.hiddenStates) hidden.slice(0, -1).forEach((h, i) => g.output(g.op('Reshape', [h, shape([D])]), i ? `hidden.layer.${i - 1}` : 'hidden.embeddings'));
    return g;
  }
  let last = x;
  let outLead = bs;
  if (opts.lastLogitsOnly) {
    // Left padding keeps every row's last real token at the last position.
    const x3 = g.op('Reshape', [x, shape([D])]);
    last = flatten2d(g.op('Slice', [x3, g.ints([-1]), g.ints([2 ** 31]), g.ints([1])]), D);
    outLead = g.op('Concat', [g.op('Slice', [bs, g.ints([0]), g.ints([1])]), g.ints([1])], { axis: 0 });
  }
  const normed = rmsNorm(w, last, s.names.norm, s.rmsNormEps);
  const logits = w.linear(normed, s.names.lmHead);
  g.output(g.op('Reshape', [logits, g.op('Concat', [outLead, g.ints([s.vocabSize])], { axis: 0 })]), 'logits');
  if (opts.hiddenStates) {
    const names = ['hidden.embeddings', ...Array.from({ length: s.numLayers }, (_, i) => `hidden.layer.${i}`)];
    hidden.forEach((h, i) => g.output(g.op('Reshape', [h, shape([D])]), names[i]!));
    if (!opts.lastLogitsOnly) g.output(g.op('Reshape', [normed, shape([D])]), 'hidden.final_norm');
  }
  return g;
}

/** Copies every layer's past key/value (a GPU cache fork): copy_key.i = past_key.i. */
export function buildCacheCopyGraph(s: DecoderSpec): Graph {
  const g = new Graph('kv_copy');
  for (let i = 0; i < s.numLayers; i++) {
    for (const kind of ['key', 'value']) {
      const x = g.input(`past_${kind}.${i}`, 'float32', ['past', 'batch', s.numKvHeads, s.headDim]);
      // Mul by 1 rather than Identity, so the output is a new buffer ORT cannot alias away.
      g.output(g.op('Mul', [x, g.scalar(1)]), `copy_${kind}.${i}`);
    }
  }
  return g;
}

/** Embedding lookup graph (ids → [B, S, D]) for VLMs that add image features in TypeScript. */
export function buildEmbedGraph(store: WeightStore, embedName: string): Graph {
  const g = new Graph('embed');
  const w = new GraphWeights(g, store);
  const ids = g.input('input_ids', 'int64', ['batch', 'seq']);
  g.output(w.gather(embedName, ids), 'inputs_embeds');
  return g;
}
