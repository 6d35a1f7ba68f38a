// Token ids → text, one token at a time. Every decoder tsvlm understands (SentencePiece "▁"
// + byte fallback, Metaspace, byte-level BPE) maps each token to UTF-8 bytes, so decoding is
// "concatenate the bytes, decode UTF-8", plus two rules from the Rust `tokenizers` decoders:
// Strip (drop one leading space of the whole text) and Metaspace (the first token loses its
// "▁"). Running the same state machine for decode() and for streaming makes the streamed
// deltas add up to decode(ids) exactly. Invalid UTF-8 becomes U+FFFD per maximal bad
// subsequence (TextDecoder), where Rust's ByteFallback would replace the whole byte run; the
// two agree on every valid sequence.

/** How a tokenizer turns ids into bytes. */
export interface DecodeModel {
  /** UTF-8 bytes of token `id`; `first` marks the first token that is not skipped. undefined: unknown id. */
  tokenBytes(id: number, first: boolean): Uint8Array | undefined;
  isSpecial(id: number): boolean;
  /** Rust Strip decoder after Fuse: one leading space of the whole text is dropped. */
  stripLeadingSpace: boolean;
  /** transformers' clean_up_tokenization_spaces (" ." → "." and friends). */
  cleanup: boolean;
}

/** Incremental decoder: push ids, get text deltas; flush() at the end. */
export interface Detokenizer {
  push(id: number): string;
  flush(): string;
}

/** transformers' clean_up_tokenization (tokenization_utils_base.py), applied in the same order. */
export function cleanUpTokenization(text: string): string {
  return text
    .replaceAll(' .', '.')
    .replaceAll(' ?', '?')
    .replaceAll(' !', '!')
    .replaceAll(' ,', ',')
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}

/** Cleanup patterns start with a space and are at most 4 chars (" n't"): a match covers 3 more. */
const CLEANUP_REACH = 3;

export class ByteDetokenizer implements Detokenizer {
  private readonly utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  private first = true;
  private atStart = true;
  private held = '';

  constructor(
    private readonly model: DecodeModel,
    private readonly skipSpecialTokens: boolean,
  ) {}

  push(id: number): string {
    if (this.skipSpecialTokens && this.model.isSpecial(id)) return '';
    let bytes = this.model.tokenBytes(id, this.first);
    // Ids the tokenizer does not know (a model vocabulary padded past the tokenizer's) are
    // skipped, as the Rust tokenizers do.
    if (bytes === undefined) return '';
    this.first = false;
    if (this.atStart && bytes.length > 0) {
      if (this.model.stripLeadingSpace && bytes[0] === 0x20) bytes = bytes.subarray(1);
      this.atStart = false;
    }
    return this.emit(this.utf8.decode(bytes, { stream: true }), false);
  }

  flush(): string {
    return this.emit(this.utf8.decode(), true);
  }

  private emit(text: string, final: boolean): string {
    if (!this.model.cleanup) return text;
    const all = this.held + text;
    if (final) {
      this.held = '';
      return cleanUpTokenization(all);
    }
    // Hold back from a space near the end (a pattern may still complete there), and move the
    // cut left until no pattern starting before it could reach past it.
    let cut = all.length;
    for (let k = all.length - 1; k >= Math.max(0, all.length - CLEANUP_REACH); k--) if (all[k] === ' ') cut = k;
    for (let moved = true; moved; ) {
      moved = false;
      for (let k = Math.max(0, cut - CLEANUP_REACH); k < cut; k++) {
        if (all[k] === ' ') {
          cut = k;
          moved = true;
          break;
        }
      }
    }
    this.held = all.slice(cut);
    return cleanUpTokenization(all.slice(0, cut));
  }
}

/**
 * For decoders without a per-token byte form (WordPiece, CTC, ...): re-decode everything and
 * emit what was added. Exact when the decoder is prefix-stable; text ending in U+FFFD
 * (an incomplete character) is held back until more tokens arrive.
 */
export class RedecodeDetokenizer implements Detokenizer {
  private readonly ids: number[] = [];
  private emitted = '';

  constructor(private readonly decodeAll: (ids: number[]) => string) {}

  push(id: number): string {
    this.ids.push(id);
    const text = this.decodeAll(this.ids);
    if (text.endsWith('\uFFFD') || !text.startsWith(this.emitted)) return '';
    const delta = text.slice(this.emitted.length);
    this.emitted = text;
    return delta;
  }

  flush(): string {
    const text = this.ids.length ? this.decodeAll(this.ids) : '';
    const delta = text.startsWith(this.emitted) ? text.slice(this.emitted.length) : '';
    this.emitted = text;
    return delta;
  }
}

const utf8Encoder = new TextEncoder();

export function utf8(s: string): Uint8Array {
  return utf8Encoder.encode(s);
}

/** Parses a <0xNN> byte-fallback token (Rust ByteFallback: exactly 6 chars, two hex digits). */
export function byteFallbackValue(token: string): number {
  if (token.length !== 6 || !token.startsWith('<0x') || token[5] !== '>') return -1;
  const hex = token.slice(3, 5);
  return /^[0-9A-Fa-f]{2}$/.test(hex) ? parseInt(hex, 16) : -1;
}

/** GPT-2's byte ↔ printable-character table (byte-level BPE). */
export const BYTE_LEVEL_CHAR_TO_BYTE: Map<number, number> = (() => {
  const bytes: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bytes.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bytes.push(b);
  for (let b = 0xae; b <= 0xff; b++) bytes.push(b);
  const chars = [...bytes];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bytes.includes(b)) {
      bytes.push(b);
      chars.push(256 + n++);
    }
  }
  return new Map(chars.map((c, i) => [c, bytes[i]]));
})();

/** Rust ByteLevel decoder on one token: mapped bytes, or the raw UTF-8 when a char is not in the table. */
export function byteLevelBytes(token: string): Uint8Array {
  const out: number[] = [];
  for (const ch of token) {
    const b = BYTE_LEVEL_CHAR_TO_BYTE.get(ch.codePointAt(0)!);
    if (b === undefined) return utf8(token);
    out.push(b);
  }
  return Uint8Array.from(out);
}
