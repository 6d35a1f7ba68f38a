// Tokenizer: one class over both kinds of Hugging Face tokenizer folders.
//
//   const tok = await loadTokenizer(dir);          // tokenizer.json preferred, else tokenizer.model / spiece.model
//   tok.encode('Hello', {addSpecialTokens: true})  // number[]; {maxLength} truncates, special tokens kept
//   tok.decode(ids, {skipSpecialTokens: true})     // string
//   tok.padToLength(ids, 64)                       // SigLIP: pad (right) with the pad token
//   tok.applyChatTemplate(messages, {addGenerationPrompt: true})
//   new TextStreamer(tok).push(id)                 // streaming deltas (stream.ts)
//
// Ids: tokenizer.json folders encode with @huggingface/tokenizers (tested equal to the Python fast
// tokenizer); SentencePiece-only folders with tsvlm's own SentencePiece + the transformers slow
// tokenizer logic (equal to LlamaTokenizer(legacy=...), T5Tokenizer, SiglipTokenizer,
// InternLM2Tokenizer). Decoding follows the fast tokenizers' decoders in both cases.
import type { AddedTokenSpec } from './added-tokens.js';
import { renderChatTemplate, selectTemplate, type ChatTemplateOptions, type TemplateMessage } from './chat-template.js';
import { ByteDetokenizer, RedecodeDetokenizer, utf8, type DecodeModel, type Detokenizer } from './decode.js';
import { readTokenizerFolder, SPECIAL_TOKEN_KEYS, TokenizerLoadError, type TokenizerFolder, type TokenValue } from './files.js';
import { JsonBackend, type JsonAddedToken } from './hf-json.js';
import { parseModelProto, type ModelProto } from './sentencepiece/proto.js';
import { SlowSentencePieceTokenizer, type SlowFlavor } from './sentencepiece/slow.js';

export interface EncodeOptions {
  /** Add the tokens the tokenizer adds around a text (LLaMA: <s>; T5/SigLIP: </s>). Default true. */
  addSpecialTokens?: boolean;
  /** Truncate the text's ids so that the result (special tokens included) fits. */
  maxLength?: number;
}

export interface DecodeOptions {
  skipSpecialTokens?: boolean;
}

export interface LoadTokenizerOptions {
  /** Which files to use when a folder has both (default: tokenizer.json; spiece.model for SiglipTokenizer). */
  prefer?: 'tokenizer.json' | 'sentencepiece';
}

interface Backend {
  kind: 'tokenizer.json' | 'sentencepiece';
  encodeContent(text: string): number[];
  tokenize(text: string): string[];
  addSpecial(ids: number[]): number[];
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
  /** Per-token byte decoding, or undefined → decodeAll (re-decode) is used. */
  decodeModel?: DecodeModel;
  decodeAll?(ids: number[], skipSpecialTokens: boolean): string;
  baseVocabSize: number;
}

const LLAMA_CLASSES = /^(Llama|CodeLlama|InternLM2|InternLM|Gemma|Baichuan)Tokenizer(Fast)?$/;
const T5_CLASSES = /^(T5|MT5|UMT5)Tokenizer(Fast)?$/;
/** Effectively "unset" in transformers (VERY_LARGE_INTEGER). */
const HUGE = 1e18;

export class Tokenizer {
  readonly dir: string;
  readonly kind: 'tokenizer.json' | 'sentencepiece';
  /** len(tokenizer): every id any token has, + 1. */
  readonly vocabSize: number;
  readonly bosToken?: string;
  readonly eosToken?: string;
  readonly padToken?: string;
  readonly unkToken?: string;
  readonly bosTokenId?: number;
  /** eos_token, then generation_config.json's eos_token_id(s). */
  readonly eosTokenIds: number[];
  readonly padTokenId?: number;
  readonly unkTokenId?: number;
  /** Ids of special tokens (skipped by decode({skipSpecialTokens: true})). */
  readonly specialIds: Set<number>;
  readonly addedTokens: readonly AddedTokenSpec[];
  /** model_max_length when the config sets a real one. */
  readonly modelMaxLength?: number;
  readonly chatTemplateNames: string[];
  private readonly backend: Backend;
  private readonly chatTemplates: Map<string, string>;
  private readonly templateTokens: Record<string, unknown>;
  private readonly addedById = new Map<number, AddedTokenSpec>();
  private readonly addedByContent = new Map<string, AddedTokenSpec>();

  /** Use loadTokenizer(dir). */
  constructor(folder: TokenizerFolder, options: LoadTokenizerOptions = {}) {
    this.dir = folder.dir;
    const cfg = folder.config;
    // transformers only has a sentencepiece SiglipTokenizer: a tokenizer.json beside spiece.model is not what it runs.
    const slowOnly = /^SiglipTokenizer$/.test(String(cfg.tokenizer_class ?? ''));
    const preferSp = options.prefer === 'sentencepiece' || (options.prefer === undefined && slowOnly);
    const useJson = folder.tokenizerJson && !(preferSp && folder.spModel);
    const special = folder.special;
    const proto = useJson ? undefined : parseModelProto(folder.spModel!.bytes, folder.spModel!.file);
    const added = proto ? spAddedTokens(folder, proto) : jsonAddedTokens(folder);
    for (const t of added) {
      this.addedById.set(t.id, t);
      this.addedByContent.set(t.content, t);
    }
    this.addedTokens = added;
    const cleanup = cfg.clean_up_tokenization_spaces === true;

    const isSpecial = (id: number) => this.specialIds.has(id);
    this.backend = proto
      ? makeSpBackend(folder, proto, added, isSpecial, cleanup)
      : makeJsonBackend(folder, added, isSpecial, cleanup);
    this.kind = this.backend.kind;

    const idOf = (v: TokenValue | undefined) => (v ? this.tokenToId(v.content) : undefined);
    this.bosToken = special.bos_token?.content;
    this.eosToken = special.eos_token?.content;
    this.padToken = special.pad_token?.content;
    this.unkToken = special.unk_token?.content;
    this.bosTokenId = idOf(special.bos_token);
    this.padTokenId = idOf(special.pad_token);
    this.unkTokenId = idOf(special.unk_token);
    const eos = idOf(special.eos_token);
    this.eosTokenIds = [...new Set([...(eos === undefined ? [] : [eos]), ...folder.generationEosIds])];

    this.specialIds = new Set<number>();
    for (const t of added) if (t.special) this.specialIds.add(t.id);
    for (const key of SPECIAL_TOKEN_KEYS) {
      const id = idOf(special[key]);
      if (id !== undefined) this.specialIds.add(id);
    }
    for (const t of folder.additionalSpecial) {
      const id = this.tokenToId(t.content);
      if (id !== undefined) this.specialIds.add(id);
    }

    let maxId = this.backend.baseVocabSize - 1;
    for (const t of added) maxId = Math.max(maxId, t.id);
    this.vocabSize = maxId + 1;
    const mml = cfg.model_max_length;
    this.modelMaxLength = typeof mml === 'number' && mml > 0 && mml < HUGE ? mml : undefined;

    this.chatTemplates = folder.chatTemplates;
    this.chatTemplateNames = [...folder.chatTemplates.keys()];
    this.templateTokens = {};
    for (const key of SPECIAL_TOKEN_KEYS) if (special[key]) this.templateTokens[key] = special[key]!.content;
    this.templateTokens.additional_special_tokens = folder.additionalSpecial.map((t) => t.content);
  }

  /** Token ids of `text`. */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const addSpecial = options.addSpecialTokens ?? true;
    let ids = this.backend.encodeContent(text);
    if (options.maxLength !== undefined) {
      const room = options.maxLength - (addSpecial ? this.backend.addSpecial([]).length : 0);
      if (ids.length > room) ids = ids.slice(0, Math.max(0, room));
    }
    return addSpecial ? this.backend.addSpecial(ids) : ids;
  }

  encodeBatch(texts: string[], options: EncodeOptions = {}): number[][] {
    return texts.map((t) => this.encode(t, options));
  }

  /** Token strings of `text` (no special tokens added), e.g. ['▁Hello', '▁world']. */
  tokenize(text: string): string[] {
    return this.backend.tokenize(text);
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const d = this.createDetokenizer(options);
    let out = '';
    for (const id of ids) out += d.push(id);
    return out + d.flush();
  }

  /** Incremental decoder; TextStreamer (stream.ts) is the friendlier wrapper. */
  createDetokenizer(options: DecodeOptions = {}): Detokenizer {
    const skip = options.skipSpecialTokens ?? false;
    if (this.backend.decodeModel) return new ByteDetokenizer(this.backend.decodeModel, skip);
    const all = this.backend.decodeAll!;
    return new RedecodeDetokenizer((ids) => all(ids, skip));
  }

  tokenToId(token: string): number | undefined {
    return this.addedByContent.get(token)?.id ?? this.backend.tokenToId(token);
  }

  idToToken(id: number): string | undefined {
    return this.addedById.get(id)?.content ?? this.backend.idToToken(id);
  }

  /** `ids` padded to `length` with the pad token (SigLIP: right, to 64). */
  padToLength(ids: readonly number[], length: number, side: 'left' | 'right' = 'right', padId = this.padTokenId): number[] {
    if (padId === undefined) {
      throw new TokenizerLoadError(`${this.dir}: the tokenizer has no pad token; pass padId to padToLength`);
    }
    if (ids.length > length) {
      throw new RangeError(`padToLength: ${ids.length} ids do not fit in ${length} (encode with {maxLength: ${length}} to truncate)`);
    }
    const pad = new Array<number>(length - ids.length).fill(padId);
    return side === 'right' ? [...ids, ...pad] : [...pad, ...ids];
  }

  /** Pads a batch to its longest sequence (or `length`), with the attention mask (1 = token). */
  padBatch(
    seqs: readonly (readonly number[])[],
    options: { side?: 'left' | 'right'; length?: number; padId?: number } = {},
  ): { ids: number[][]; attentionMask: number[][] } {
    const length = options.length ?? Math.max(0, ...seqs.map((s) => s.length));
    const side = options.side ?? 'right';
    const ids = seqs.map((s) => this.padToLength(s, length, side, options.padId ?? this.padTokenId));
    const attentionMask = seqs.map((s) => {
      const ones = new Array<number>(s.length).fill(1);
      const zeros = new Array<number>(length - s.length).fill(0);
      return side === 'right' ? [...ones, ...zeros] : [...zeros, ...ones];
    });
    return { ids, attentionMask };
  }

  /** The default chat template's Jinja source, if the folder has one. */
  get chatTemplate(): string | undefined {
    const t = this.chatTemplates;
    return t.get('default') ?? (t.size === 1 ? [...t.values()][0] : undefined);
  }

  /** The prompt text the model's chat template makes of `messages`. */
  applyChatTemplate(messages: readonly TemplateMessage[], options: ChatTemplateOptions = {}): string {
    const source = selectTemplate(this.chatTemplates, options.template, this.dir);
    return renderChatTemplate(source, messages.map(templateMessage), this.templateTokens, options);
  }
}

/** Image parts lose their pixels: templates only look at {type: 'image'}. */
function templateMessage(m: TemplateMessage): TemplateMessage {
  if (!Array.isArray(m.content)) return m;
  return {
    ...m,
    content: m.content.map((p: any) => (p && p.type === 'image' && 'image' in p ? { ...p, image: undefined } : p)),
  };
}

export async function loadTokenizer(dir: string, options: LoadTokenizerOptions = {}): Promise<Tokenizer> {
  return new Tokenizer(await readTokenizerFolder(dir), options);
}

// ---- tokenizer.json ----

function jsonAddedTokens(folder: TokenizerFolder): AddedTokenSpec[] {
  const json = folder.tokenizerJson!;
  const list: JsonAddedToken[] = Array.isArray(json.added_tokens) ? json.added_tokens : [];
  const out: AddedTokenSpec[] = list.map((t) => ({
    id: t.id,
    content: t.content,
    special: Boolean(t.special),
    lstrip: Boolean(t.lstrip),
    rstrip: Boolean(t.rstrip),
    singleWord: Boolean(t.single_word),
    normalized: Boolean(t.normalized),
  }));
  // Tokens the config adds on top of tokenizer.json (transformers registers them at load time).
  const have = new Set(out.map((t) => t.content));
  const vocabId = (content: string): number | undefined => {
    const v = json.model?.vocab;
    if (Array.isArray(v)) {
      const i = v.findIndex((e: any) => Array.isArray(e) && e[0] === content);
      return i >= 0 ? i : undefined;
    }
    return v && typeof v === 'object' && Number.isInteger(v[content]) ? v[content] : undefined;
  };
  for (const t of folder.addedTokens) {
    if (!have.has(t.content)) {
      out.push(t);
      have.add(t.content);
    }
  }
  const specials = [...SPECIAL_TOKEN_KEYS.map((k) => folder.special[k]), ...folder.additionalSpecial];
  for (const v of specials) {
    if (!v || have.has(v.content)) continue;
    const id = vocabId(v.content);
    if (id === undefined) continue;
    out.push({ id, content: v.content, special: true, lstrip: !!v.lstrip, rstrip: !!v.rstrip, singleWord: !!v.single_word, normalized: false });
    have.add(v.content);
  }
  return out;
}

function makeJsonBackend(
  folder: TokenizerFolder,
  added: AddedTokenSpec[],
  isSpecial: (id: number) => boolean,
  cleanup: boolean,
): Backend {
  const json = { ...folder.tokenizerJson! };
  json.added_tokens = added.map((t) => ({
    id: t.id,
    content: t.content,
    special: t.special,
    lstrip: t.lstrip,
    rstrip: t.rstrip,
    single_word: t.singleWord,
    normalized: t.normalized,
  }));
  const cfg = folder.config;
  // @huggingface/tokenizers reads a few config keys; give it plain strings.
  const hfConfig: Record<string, unknown> = {
    ...cfg,
    clean_up_tokenization_spaces: cleanup,
    additional_special_tokens: folder.additionalSpecial.map((t) => t.content),
  };
  for (const k of SPECIAL_TOKEN_KEYS) hfConfig[k] = folder.special[k]?.content ?? null;
  const be = new JsonBackend(json, hfConfig, `${folder.dir}/tokenizer.json`);
  let { prefix, suffix } = be.specialAround();
  // transformers' Llama-family fast tokenizers rebuild the post-processor from add_bos_token/add_eos_token.
  const cls = String(cfg.tokenizer_class ?? '');
  if (LLAMA_CLASSES.test(cls) && ('add_bos_token' in cfg || 'add_eos_token' in cfg)) {
    const bos = folder.special.bos_token && be.tokenToId(folder.special.bos_token.content);
    const eos = folder.special.eos_token && be.tokenToId(folder.special.eos_token.content);
    prefix = cfg.add_bos_token !== false && bos !== undefined ? [bos] : [];
    suffix = cfg.add_eos_token === true && eos !== undefined ? [eos] : [];
  }
  const baseVocabSize = Math.max(0, ...be.vocab.values()) + 1;
  const decodeModel = be.decodeModel(isSpecial, cleanup);
  return {
    kind: 'tokenizer.json',
    encodeContent: (t) => be.encodeContent(t),
    tokenize: (t) => be.tokenize(t),
    addSpecial: (ids) => [...prefix, ...ids, ...suffix],
    tokenToId: (t) => be.tokenToId(t),
    idToToken: (id) => be.idToToken(id),
    decodeModel,
    decodeAll: (ids, skip) => be.decodeAll(ids, skip, cleanup),
    baseVocabSize,
  };
}

// ---- SentencePiece (transformers slow tokenizers) ----

function spFlavor(cls: string): SlowFlavor {
  if (/^SiglipTokenizer(Fast)?$/.test(cls)) return 'siglip';
  if (T5_CLASSES.test(cls)) return 't5';
  return 'llama';
}

/** Added tokens for the slow path: the folder's, then special tokens found in the SentencePiece vocabulary. */
function spAddedTokens(folder: TokenizerFolder, proto: ModelProto): AddedTokenSpec[] {
  const out = [...folder.addedTokens];
  const have = new Set(out.map((t) => t.content));
  const cls = String(folder.config.tokenizer_class ?? '');
  // SiglipTokenizer makes its eos/unk/pad tokens eat surrounding spaces.
  const stripDefault = spFlavor(cls) === 'siglip';
  const pieceIds = pieceIndex(proto);
  let next = Math.max(proto.pieces.length - 1, ...out.map((t) => t.id)) + 1;
  const specials = [...SPECIAL_TOKEN_KEYS.map((k) => folder.special[k]), ...folder.additionalSpecial];
  for (const v of specials) {
    if (!v || have.has(v.content)) continue;
    // PreTrainedTokenizer._add_tokens: a special token in the vocabulary keeps its id, others get the next one.
    const id = pieceIds.get(v.content) ?? next++;
    out.push({
      id,
      content: v.content,
      special: true,
      lstrip: v.lstrip ?? stripDefault,
      rstrip: v.rstrip ?? stripDefault,
      singleWord: !!v.single_word,
      normalized: false,
    });
    have.add(v.content);
  }
  return out;
}

function pieceIndex(proto: ModelProto): Map<string, number> {
  const m = new Map<string, number>();
  proto.pieces.forEach((p, i) => {
    if (!m.has(p.piece)) m.set(p.piece, i);
  });
  return m;
}

function makeSpBackend(
  folder: TokenizerFolder,
  proto: ModelProto,
  added: AddedTokenSpec[],
  isSpecial: (id: number) => boolean,
  cleanup: boolean,
): Backend {
  const cfg = folder.config;
  const cls = String(cfg.tokenizer_class ?? 'LlamaTokenizer');
  const flavor = spFlavor(cls);
  // InternLM2Tokenizer always encodes the legacy way; others default to legacy=True as in transformers 4.
  const legacy = /^InternLM/.test(cls) ? true : cfg.legacy !== false;
  const addPrefixSpace = cfg.add_prefix_space !== false;
  const unk = folder.special.unk_token?.content ?? '<unk>';
  const knownLlama = LLAMA_CLASSES.test(cls);
  const pieceIds = pieceIndex(proto);
  const idOf = (v: TokenValue | undefined) => {
    if (!v) return undefined;
    return added.find((t) => t.content === v.content)?.id ?? pieceIds.get(v.content);
  };
  const slow = new SlowSentencePieceTokenizer(
    proto,
    {
      flavor,
      legacy,
      addPrefixSpace,
      doLowerCase: flavor === 'siglip' ? cfg.do_lower_case !== false : false,
      unkToken: unk,
      addedTokens: added,
      specialTokens: [
        ...SPECIAL_TOKEN_KEYS.map((k) => folder.special[k]?.content).filter((x): x is string => !!x),
        ...folder.additionalSpecial.map((t) => t.content),
        ...added.filter((t) => t.special).map((t) => t.content),
      ],
      bosId: idOf(folder.special.bos_token),
      eosId: idOf(folder.special.eos_token),
      // LlamaTokenizer defaults: add_bos_token=True, add_eos_token=False; unknown classes add nothing unasked.
      addBos: cfg.add_bos_token ?? knownLlama,
      addEos: cfg.add_eos_token ?? false,
    },
    folder.spModel!.file,
  );
  const sp = slow.sp;
  const addedById = new Map(added.map((t) => [t.id, t]));
  // Decoding as transformers' converted fast tokenizers: Llama family = Replace("▁"→" "),
  // ByteFallback, Fuse, Strip(1 leading space); T5/SigLIP = Metaspace (first token loses "▁").
  const metaspace = flavor !== 'llama';
  const decodeModel: DecodeModel = {
    tokenBytes(id, first) {
      const a = addedById.get(id);
      const piece = a ? a.content : sp.idToPiece(id);
      if (piece === undefined) return undefined;
      if (!a) {
        const b = sp.pieceByte(id);
        if (b >= 0) return Uint8Array.of(b);
      }
      return utf8(piece.replaceAll('\u2581', metaspace && first ? '' : ' '));
    },
    isSpecial,
    stripLeadingSpace: !metaspace && addPrefixSpace,
    cleanup,
  };
  return {
    kind: 'sentencepiece',
    encodeContent: (t) => slow.encodeContent(t),
    tokenize: (t) => slow.tokenize(t),
    addSpecial: (ids) => slow.addSpecialTokens(ids),
    tokenToId: (t) => sp.lookup(t),
    idToToken: (id) => sp.idToPiece(id),
    decodeModel,
    baseVocabSize: sp.size,
  };
}
