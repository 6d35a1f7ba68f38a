// SentencePiece's text normalizer, byte for byte as sentencepiece/src/normalizer.cc does it:
// precompiled character map (a darts-clone double-array trie over UTF-8 bytes, e.g. nmt_nfkc),
// user-defined symbols passed through untouched, whitespace squeezing, the dummy "▁" prefix,
// and spaces escaped to U+2581.
import type { NormalizerSpec } from './proto.js';
import { SentencePieceFormatError } from './proto.js';

const SPACE = 0x20;
const SPACE_SYMBOL = [0xe2, 0x96, 0x81]; // U+2581 "▁"

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

/** Length of the UTF-8 sequence that starts with `lead` (1 for stray continuation bytes). */
export function utf8CharLen(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xf0 && lead < 0xf8) return 4;
  if (lead >= 0xe0) return lead < 0xf0 ? 3 : 1;
  if (lead >= 0xc0) return 2;
  return 1;
}

/** Longest-match over a set of byte strings (SentencePiece's PrefixMatcher for user-defined symbols). */
export class BytePrefixMatcher {
  private readonly root = new Map<number, TrieNode>();

  constructor(words: Iterable<string>) {
    for (const w of words) {
      const bytes = encoder.encode(w);
      if (bytes.length === 0) continue;
      let level = this.root;
      let node: TrieNode | undefined;
      for (const b of bytes) {
        node = level.get(b);
        if (!node) {
          node = { end: false, next: new Map() };
          level.set(b, node);
        }
        level = node.next;
      }
      node!.end = true;
    }
  }

  get empty(): boolean {
    return this.root.size === 0;
  }

  /** Length in bytes of the longest word starting at `pos`, or 0. */
  match(buf: Uint8Array, pos: number): number {
    let level = this.root;
    let best = 0;
    for (let i = pos; i < buf.length; i++) {
      const node = level.get(buf[i]);
      if (!node) break;
      if (node.end) best = i - pos + 1;
      level = node.next;
    }
    return best;
  }
}

interface TrieNode {
  end: boolean;
  next: Map<number, TrieNode>;
}

/** The precompiled charsmap blob: <uint32 trie size><double-array units><NUL-separated outputs>. */
class CharsMap {
  private readonly units: Uint32Array;
  private readonly outputs: Uint8Array;

  constructor(blob: Uint8Array) {
    if (blob.length <= 4) throw new SentencePieceFormatError('normalizer precompiled_charsmap is broken (too short)');
    const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    const trieSize = view.getUint32(0, true);
    if (trieSize >= blob.length || trieSize % 4 !== 0) {
      throw new SentencePieceFormatError(`normalizer precompiled_charsmap is broken (trie size ${trieSize} of ${blob.length} bytes)`);
    }
    this.units = new Uint32Array(trieSize / 4);
    for (let i = 0; i < this.units.length; i++) this.units[i] = view.getUint32(4 + i * 4, true);
    this.outputs = blob.subarray(4 + trieSize);
  }

  /** Longest rule matching at `pos`: [bytes consumed, replacement] or undefined. */
  lookup(buf: Uint8Array, pos: number): [number, Uint8Array] | undefined {
    const u = this.units;
    let node = 0;
    node ^= offset(u[0]);
    let bestLen = 0;
    let bestValue = 0;
    for (let i = pos; i < buf.length; i++) {
      const c = buf[i];
      node ^= c;
      if (node >= u.length) break;
      const unit = u[node];
      if ((unit & 0x800000ff) >>> 0 !== c) break; // label mismatch
      node ^= offset(unit);
      if ((unit >>> 8) & 1) {
        if (node >= u.length) break;
        bestLen = i - pos + 1;
        bestValue = u[node] & 0x7fffffff;
      }
    }
    if (bestLen === 0) return undefined;
    let end = bestValue;
    while (end < this.outputs.length && this.outputs[end] !== 0) end++;
    return [bestLen, this.outputs.subarray(bestValue, end)];
  }
}

function offset(unit: number): number {
  // (unit >> 10) << ((unit & (1 << 9)) >> 6), without 32-bit overflow.
  return (unit >>> 10) * (unit & 0x200 ? 256 : 1);
}

export class SentencePieceNormalizer {
  private readonly charsMap?: CharsMap;

  constructor(
    private readonly spec: NormalizerSpec,
    private readonly treatWhitespaceAsSuffix: boolean,
    private readonly userDefined: BytePrefixMatcher,
  ) {
    if (spec.precompiledCharsmap.length > 0) this.charsMap = new CharsMap(spec.precompiledCharsmap);
  }

  /** One normalization step at `pos`: [replacement bytes, input bytes consumed]. */
  private prefix(buf: Uint8Array, pos: number): [Uint8Array, number] {
    if (!this.userDefined.empty) {
      const n = this.userDefined.match(buf, pos);
      if (n > 0) return [buf.subarray(pos, pos + n), n];
    }
    const hit = this.charsMap?.lookup(buf, pos);
    if (hit) return [hit[1], hit[0]];
    const n = Math.min(utf8CharLen(buf[pos]), buf.length - pos);
    return [buf.subarray(pos, pos + n), n];
  }

  /** Normalizes `text` (already split from added tokens) into the string the model segments. */
  normalize(text: string): string {
    return decoder.decode(this.normalizeBytes(encoder.encode(text)));
  }

  normalizeBytes(input: Uint8Array): Uint8Array {
    const spec = this.spec;
    const out: number[] = [];
    let pos = 0;
    if (input.length === 0) return new Uint8Array(0);

    // Leading whitespace is dropped.
    if (spec.removeExtraWhitespaces) {
      while (pos < input.length) {
        const [sp, n] = this.prefix(input, pos);
        if (!(sp.length === 1 && sp[0] === SPACE)) break;
        pos += n;
      }
    }
    if (pos >= input.length) return new Uint8Array(0);

    const addWs = () => {
      if (spec.escapeWhitespaces) out.push(...SPACE_SYMBOL);
      else out.push(SPACE);
    };
    if (!this.treatWhitespaceAsSuffix && spec.addDummyPrefix) addWs();

    let prevSpace = spec.removeExtraWhitespaces;
    while (pos < input.length) {
      const [sp, n] = this.prefix(input, pos);
      let start = 0;
      // Spaces right after a space are squeezed.
      while (prevSpace && start < sp.length && sp[start] === SPACE) start++;
      if (start < sp.length) {
        for (let k = start; k < sp.length; k++) {
          if (spec.escapeWhitespaces && sp[k] === SPACE) out.push(...SPACE_SYMBOL);
          else out.push(sp[k]);
        }
        prevSpace = sp[sp.length - 1] === SPACE;
      }
      pos += n;
      if (!spec.removeExtraWhitespaces) prevSpace = false;
    }

    // Trailing whitespace is dropped.
    if (spec.removeExtraWhitespaces) {
      const space = spec.escapeWhitespaces ? SPACE_SYMBOL : [SPACE];
      while (out.length >= space.length && space.every((b, k) => out[out.length - space.length + k] === b)) {
        out.length -= space.length;
      }
    }
    if (this.treatWhitespaceAsSuffix && spec.addDummyPrefix) addWs();
    return Uint8Array.from(out);
  }
}
