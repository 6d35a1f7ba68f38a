// A SentencePiece model (tokenizer.model / spiece.model) that encodes exactly like the
// sentencepiece library's SentencePieceProcessor::Encode: normalize, then BPE merges by score
// (bpe_model.cc) or the optimized Unigram Viterbi (unigram_model.cc), then byte fallback for
// unknown pieces and merging of runs of unknown characters (sentencepiece_processor.cc).
import { BytePrefixMatcher, SentencePieceNormalizer } from './normalizer.js';
import { PieceType, SentencePieceFormatError, parseModelProto, type ModelProto } from './proto.js';

export interface EncodedPiece {
  piece: string;
  id: number;
}

const MODEL_UNIGRAM = 1;
const MODEL_BPE = 2;
/** unigram_model.h: kUnkPenalty */
const UNK_PENALTY = 10;
const FLT_MAX = 3.4028234663852886e38;
const FLT_MIN = 1.1754943508222875e-38;

const encoder = new TextEncoder();

function hexByte(b: number): string {
  return `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
}

/** A trie over pieces, keyed by UTF-16 code units, for the Unigram lattice. */
interface PieceTrieNode {
  id: number; // -1 when no piece ends here
  next: Map<number, PieceTrieNode>;
}

export class SentencePieceModel {
  readonly proto: ModelProto;
  readonly normalizer: SentencePieceNormalizer;
  readonly modelType: 'bpe' | 'unigram';
  readonly unkId: number;
  readonly byteFallback: boolean;
  /** NORMAL, USER_DEFINED and UNUSED pieces (what segmentation may produce). */
  private readonly pieces = new Map<string, number>();
  /** CONTROL, UNKNOWN and BYTE pieces. */
  private readonly reserved = new Map<string, number>();
  private readonly types: Uint8Array;
  private readonly scores: Float32Array;
  private readonly byteIds = new Int32Array(256).fill(-1);
  private minScore = FLT_MAX;
  private maxScore = FLT_MIN;
  private trie?: PieceTrieNode;

  constructor(proto: ModelProto, what = 'tokenizer.model', options: { addDummyPrefix?: boolean } = {}) {
    this.proto = proto;
    const t = proto.trainerSpec.modelType;
    if (t !== MODEL_BPE && t !== MODEL_UNIGRAM) {
      const name = t === 3 ? 'WORD' : t === 4 ? 'CHAR' : String(t);
      throw new SentencePieceFormatError(`${what}: SentencePiece model type ${name} is not supported (BPE and UNIGRAM are)`);
    }
    this.modelType = t === MODEL_BPE ? 'bpe' : 'unigram';
    this.byteFallback = proto.trainerSpec.byteFallback;
    const n = proto.pieces.length;
    this.types = new Uint8Array(n);
    this.scores = new Float32Array(n);
    let unk = -1;
    const userDefined: string[] = [];
    for (let i = 0; i < n; i++) {
      const p = proto.pieces[i];
      this.types[i] = p.type;
      this.scores[i] = p.score;
      const normal = p.type === PieceType.NORMAL || p.type === PieceType.USER_DEFINED || p.type === PieceType.UNUSED;
      const map = normal ? this.pieces : this.reserved;
      if (map.has(p.piece)) throw new SentencePieceFormatError(`${what}: piece ${JSON.stringify(p.piece)} is defined twice`);
      map.set(p.piece, i);
      if (p.type === PieceType.USER_DEFINED) userDefined.push(p.piece);
      if (p.type === PieceType.UNKNOWN) {
        if (unk >= 0) throw new SentencePieceFormatError(`${what}: more than one unknown piece`);
        unk = i;
      }
      if (p.type === PieceType.BYTE) {
        const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(p.piece);
        if (!m) throw new SentencePieceFormatError(`${what}: byte piece ${JSON.stringify(p.piece)} is not <0xNN>`);
        this.byteIds[parseInt(m[1], 16)] = i;
      }
      if (p.type === PieceType.NORMAL) {
        this.minScore = Math.min(this.minScore, p.score);
        this.maxScore = Math.max(this.maxScore, p.score);
      }
    }
    if (unk < 0) throw new SentencePieceFormatError(`${what}: no unknown piece (<unk>)`);
    this.unkId = unk;
    const normalizerSpec = { ...proto.normalizerSpec };
    // transformers' non-legacy tokenizers switch the dummy prefix off in the proto.
    if (options.addDummyPrefix !== undefined) normalizerSpec.addDummyPrefix = options.addDummyPrefix;
    this.userDefined = new BytePrefixMatcher(userDefined);
    this.normalizer = new SentencePieceNormalizer(normalizerSpec, proto.trainerSpec.treatWhitespaceAsSuffix, this.userDefined);
  }

  private readonly userDefined: BytePrefixMatcher;

  static fromBytes(bytes: Uint8Array, what = 'tokenizer.model', options: { addDummyPrefix?: boolean } = {}): SentencePieceModel {
    return new SentencePieceModel(parseModelProto(bytes, what), what, options);
  }

  get size(): number {
    return this.proto.pieces.length;
  }

  idToPiece(id: number): string | undefined {
    return this.proto.pieces[id]?.piece;
  }

  /** sentencepiece's PieceToId: control/unknown/byte pieces first, then the vocabulary, else unk. */
  pieceToId(piece: string): number {
    return this.reserved.get(piece) ?? this.pieces.get(piece) ?? this.unkId;
  }

  /** The id when `piece` is a real piece of the model, else undefined. */
  lookup(piece: string): number | undefined {
    return this.reserved.get(piece) ?? this.pieces.get(piece);
  }

  isControl(id: number): boolean {
    return this.types[id] === PieceType.CONTROL;
  }

  isByte(id: number): boolean {
    return this.types[id] === PieceType.BYTE;
  }

  isUnknown(id: number): boolean {
    return this.types[id] === PieceType.UNKNOWN;
  }

  /** The byte a <0xNN> piece stands for, else -1. */
  pieceByte(id: number): number {
    if (this.types[id] !== PieceType.BYTE) return -1;
    return parseInt(this.proto.pieces[id].piece.slice(3, 5), 16);
  }

  /** Encodes text into pieces, as SentencePieceProcessor.encode(text, out_type=str) plus ids. */
  encode(text: string): EncodedPiece[] {
    const normalized = this.normalizer.normalize(text);
    if (normalized.length === 0) return [];
    const raw = this.modelType === 'bpe' ? this.encodeBpe(normalized) : this.encodeUnigram(normalized);
    const out: EncodedPiece[] = [];
    let prevUnk = false;
    for (const { piece, id } of raw) {
      const unk = this.isUnknown(id);
      if (unk && this.byteFallback) {
        for (const b of encoder.encode(piece)) {
          const bp = hexByte(b);
          out.push({ piece: bp, id: this.pieceToId(bp) });
        }
      } else if (unk && prevUnk) {
        // A run of unknown characters becomes one unknown piece.
        out[out.length - 1].piece += piece;
      } else {
        out.push({ piece, id });
      }
      prevUnk = unk;
    }
    return out;
  }

  // ---- BPE (bpe_model.cc) ----

  private encodeBpe(normalized: string): EncodedPiece[] {
    // Symbols: one per character, or one per user-defined symbol (frozen: never merged).
    const syms: { piece: string; prev: number; next: number; freeze: boolean }[] = [];
    const bytes = this.userDefined.empty ? undefined : encoder.encode(normalized);
    let bytePos = 0;
    for (let i = 0; i < normalized.length; ) {
      let len = normalized.codePointAt(i)! > 0xffff ? 2 : 1;
      let freeze = false;
      if (bytes) {
        const m = this.userDefined.match(bytes, bytePos);
        if (m > 0) {
          const s = new TextDecoder().decode(bytes.subarray(bytePos, bytePos + m));
          len = s.length;
          freeze = true;
        }
        bytePos += encoder.encode(normalized.slice(i, i + len)).length;
      }
      const idx = syms.length;
      syms.push({ piece: normalized.slice(i, i + len), prev: idx - 1, next: -1, freeze });
      if (idx > 0) syms[idx - 1].next = idx;
      i += len;
    }

    const heap = new PairHeap();
    const revMerge = new Map<string, [string, string]>();
    const maybeAdd = (left: number, right: number) => {
      if (left === -1 || right === -1 || syms[left].freeze || syms[right].freeze) return;
      const merged = syms[left].piece + syms[right].piece;
      const id = this.pieces.get(merged);
      if (id === undefined) return;
      heap.push({ left, right, score: this.scores[id], size: merged.length });
      if (this.types[id] === PieceType.UNUSED) revMerge.set(merged, [syms[left].piece, syms[right].piece]);
    };
    for (let i = 1; i < syms.length; i++) maybeAdd(i - 1, i);

    for (let top = heap.pop(); top; top = heap.pop()) {
      const l = syms[top.left];
      const r = syms[top.right];
      // Stale pair: one side was merged away since it was queued.
      if (l.piece === '' || r.piece === '' || l.piece.length + r.piece.length !== top.size) continue;
      l.piece += r.piece;
      l.next = r.next;
      if (r.next >= 0) syms[r.next].prev = top.left;
      r.piece = '';
      maybeAdd(l.prev, top.left);
      maybeAdd(top.left, l.next);
    }

    const out: EncodedPiece[] = [];
    const resegment = (w: string) => {
      const id = this.pieceToId(w);
      const split = this.types[id] === PieceType.UNUSED ? revMerge.get(w) : undefined;
      if (!split) {
        out.push({ piece: w, id });
        return;
      }
      resegment(split[0]);
      resegment(split[1]);
    };
    for (let i = syms.length > 0 ? 0 : -1; i !== -1; i = syms[i].next) resegment(syms[i].piece);
    return out;
  }

  // ---- Unigram (unigram_model.cc, EncodeOptimized) ----

  private buildTrie(): PieceTrieNode {
    const root: PieceTrieNode = { id: -1, next: new Map() };
    for (const [piece, id] of this.pieces) {
      let node = root;
      for (let k = 0; k < piece.length; k++) {
        const c = piece.charCodeAt(k);
        let nx = node.next.get(c);
        if (!nx) {
          nx = { id: -1, next: new Map() };
          node.next.set(c, nx);
        }
        node = nx;
      }
      node.id = id;
    }
    return root;
  }

  private encodeUnigram(normalized: string): EncodedPiece[] {
    this.trie ??= this.buildTrie();
    const n = normalized.length;
    // Best path ending at each UTF-16 position (scores kept as float32 like the C++ code).
    const bestScore = new Float64Array(n + 1);
    const bestStart = new Int32Array(n + 1).fill(-1);
    const bestId = new Int32Array(n + 1).fill(-1);
    const unkScore = Math.fround(Math.fround(this.minScore) - UNK_PENALTY);
    const maxScore = Math.fround(this.maxScore);
    const byteLen = (a: number, b: number) => encoder.encode(normalized.slice(a, b)).length;

    for (let start = 0; start < n; ) {
      const charLen = normalized.codePointAt(start)! > 0xffff ? 2 : 1;
      const base = bestScore[start];
      let hasSingle = false;
      let node: PieceTrieNode | undefined = this.trie;
      for (let k = start; k < n; k++) {
        node = node.next.get(normalized.charCodeAt(k));
        if (!node) break;
        const id = node.id;
        if (id < 0 || this.types[id] === PieceType.UNUSED) continue;
        const end = k + 1;
        // User-defined symbols get a bonus that always wins (length in bytes, as in C++).
        const cand =
          this.types[id] === PieceType.USER_DEFINED
            ? Math.fround(byteLen(start, end) * maxScore) - 0.1 + base
            : Math.fround(this.scores[id] + base);
        if (bestStart[end] === -1 || cand > bestScore[end]) {
          bestScore[end] = Math.fround(cand);
          bestStart[end] = start;
          bestId[end] = id;
        }
        if (end - start === charLen) hasSingle = true;
      }
      if (!hasSingle) {
        const end = start + charLen;
        const cand = Math.fround(unkScore + base);
        if (bestStart[end] === -1 || cand > bestScore[end]) {
          bestScore[end] = cand;
          bestStart[end] = start;
          bestId[end] = this.unkId;
        }
      }
      start += charLen;
    }

    const out: EncodedPiece[] = [];
    for (let end = n; end > 0; ) {
      const start = bestStart[end];
      out.push({ piece: normalized.slice(start, end), id: bestId[end] });
      end = start;
    }
    return out.reverse();
  }
}

/** Max-heap of merge candidates: higher score first, then the leftmost (bpe_model.h). */
interface Pair {
  left: number;
  right: number;
  score: number;
  size: number;
}

class PairHeap {
  private readonly a: Pair[] = [];

  private before(x: Pair, y: Pair): boolean {
    return x.score !== y.score ? x.score > y.score : x.left < y.left;
  }

  push(p: Pair): void {
    const a = this.a;
    a.push(p);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(a[i], a[parent])) break;
      [a[i], a[parent]] = [a[parent], a[i]];
      i = parent;
    }
  }

  pop(): Pair | undefined {
    const a = this.a;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.before(a[l], a[m])) m = l;
        if (r < a.length && this.before(a[r], a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}
