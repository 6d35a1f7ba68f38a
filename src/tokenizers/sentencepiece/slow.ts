// transformers' slow (sentencepiece) tokenizers on top of SentencePieceModel: LlamaTokenizer
// (legacy=True/False), T5Tokenizer, SiglipTokenizer, InternLM2Tokenizer. Reference:
// transformers 4.57 models/{llama,t5,siglip}/tokenization_*.py and tokenization_utils.py.
// Ids equal the Python slow tokenizer's (tested against oracles in test/data/tokenizers).
import { AddedTokenSplitter, type AddedTokenSpec, isPySpace, pyStrip } from '../added-tokens.js';
import { SentencePieceModel } from './model.js';
import type { ModelProto } from './proto.js';

export type SlowFlavor = 'llama' | 't5' | 'siglip';

export interface SlowOptions {
  flavor: SlowFlavor;
  /** Llama/T5 `legacy`: true = every text piece gets SentencePiece's dummy prefix. */
  legacy: boolean;
  /** Llama/T5 `add_prefix_space` (non-legacy only): a "▁" is put before the text. */
  addPrefixSpace: boolean;
  /** SiglipTokenizer `do_lower_case` (lowercases everything but special tokens). */
  doLowerCase: boolean;
  unkToken: string;
  addedTokens: AddedTokenSpec[];
  /** all_special_tokens: contents of bos/eos/unk/pad/... and additional special tokens. */
  specialTokens: string[];
  /** Llama: prepend bos / append eos. T5/SigLIP always append eos (unless already last). */
  bosId?: number;
  eosId?: number;
  addBos: boolean;
  addEos: boolean;
}

const SPIECE_UNDERLINE = '\u2581';
/** Python's string.punctuation, which SiglipTokenizer.canonicalize_text removes. */
const ASCII_PUNCT = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;

export class SlowSentencePieceTokenizer {
  readonly sp: SentencePieceModel;
  readonly splitter: AddedTokenSplitter;
  private readonly special: Set<string>;
  private readonly unkLen: number;

  constructor(
    proto: ModelProto,
    readonly options: SlowOptions,
    what: string,
  ) {
    // Non-legacy Llama/T5 and SigLIP switch the dummy prefix off and add "▁" themselves.
    const noDummy = options.flavor === 'siglip' || !options.legacy;
    this.sp = new SentencePieceModel(proto, what, noDummy ? { addDummyPrefix: false } : {});
    this.splitter = new AddedTokenSplitter(options.addedTokens);
    this.special = new Set(options.specialTokens);
    this.unkLen = this.sp.encode(options.unkToken).length;
  }

  /** Token strings for `text`, as tokenizer.tokenize(text) in Python. */
  tokenize(text: string): string[] {
    const o = this.options;
    if (o.flavor === 'siglip') {
      return this.dropLoneUnderline(this.baseTokenize(SPIECE_UNDERLINE + text.replaceAll(SPIECE_UNDERLINE, ' ')));
    }
    if (o.legacy || text.length === 0) return this.baseTokenize(text);
    let t = text.replaceAll(SPIECE_UNDERLINE, ' ');
    if (o.addPrefixSpace) t = SPIECE_UNDERLINE + t;
    return this.dropLoneUnderline(this.baseTokenize(t));
  }

  /** Ids without special tokens added. */
  encodeContent(text: string): number[] {
    return this.tokenize(text).map((t) => this.tokenToId(t));
  }

  /** convert_tokens_to_ids: added tokens first, then the SentencePiece vocabulary (else unk). */
  tokenToId(token: string): number {
    return this.splitter.get(token)?.id ?? this.sp.pieceToId(token);
  }

  /** build_inputs_with_special_tokens for one sequence. */
  addSpecialTokens(ids: number[]): number[] {
    const o = this.options;
    if (o.flavor === 'llama') {
      const out = o.addBos && o.bosId !== undefined ? [o.bosId, ...ids] : [...ids];
      if (o.addEos && o.eosId !== undefined) out.push(o.eosId);
      return out;
    }
    // T5/SigLIP: eos, unless the text already ended with it.
    if (o.eosId === undefined || (ids.length > 0 && ids[ids.length - 1] === o.eosId)) return [...ids];
    return [...ids, o.eosId];
  }

  private dropLoneUnderline(tokens: string[]): string[] {
    if (tokens.length > 1 && tokens[0] === SPIECE_UNDERLINE && this.special.has(tokens[1])) return tokens.slice(1);
    return tokens;
  }

  private baseTokenize(text: string): string[] {
    if (this.options.doLowerCase) text = this.lowerExceptSpecial(text);
    const out: string[] = [];
    for (const piece of this.splitter.split(text)) {
      if (this.splitter.isAdded(piece)) out.push(piece);
      else for (const p of this.subword(piece)) out.push(p);
    }
    return out;
  }

  /** The model-specific _tokenize. */
  private subword(text: string): string[] {
    const o = this.options;
    if (o.flavor === 'siglip') return this.encodeAfterUnk(canonicalize(text));
    if (o.legacy || !(text.startsWith(SPIECE_UNDERLINE) || text.startsWith(' '))) {
      return this.sp.encode(text).map((p) => p.piece);
    }
    return this.encodeAfterUnk(text);
  }

  /** Without a dummy prefix SentencePiece would drop a leading "▁": encode "<unk>" + text, cut the unk pieces. */
  private encodeAfterUnk(text: string): string[] {
    const pieces = this.sp.encode(this.options.unkToken + text).map((p) => p.piece);
    return pieces.length >= this.unkLen ? pieces.slice(this.unkLen) : pieces;
  }

  /**
   * PreTrainedTokenizer.tokenize with do_lower_case: special tokens keep their case, every
   * other character is lowercased on its own (Python's re.sub over "(.+?)", so no final-sigma
   * context), newlines untouched.
   */
  private lowerExceptSpecial(text: string): string {
    const specials = this.options.specialTokens.filter((s) => s.length > 0);
    let out = '';
    for (let i = 0; i < text.length; ) {
      const hit = specials.find((s) => text.startsWith(s, i));
      if (hit) {
        out += hit;
        i += hit.length;
        continue;
      }
      const cp = text.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      out += ch === '\n' ? ch : ch.toLowerCase();
      i += ch.length;
    }
    return out;
  }
}

/**
 * SiglipTokenizer.canonicalize_text: drop ASCII punctuation, squeeze whitespace, strip.
 * (Lowercasing already happened in lowerExceptSpecial, as in transformers 4.x.)
 */
export function canonicalize(text: string): string {
  const t = text.replace(ASCII_PUNCT, '');
  let squeezed = '';
  let inSpace = false;
  for (const ch of t) {
    if (isPySpace(ch.charCodeAt(0)) && ch.length === 1) {
      if (!inSpace) squeezed += ' ';
      inSpace = true;
    } else {
      squeezed += ch;
      inSpace = false;
    }
  }
  return pyStrip(squeezed);
}
