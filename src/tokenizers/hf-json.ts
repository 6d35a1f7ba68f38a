// tokenizer.json (Hugging Face `tokenizers` format): encoding through @huggingface/tokenizers,
// plus what tsvlm needs around it: the special tokens the post-processor adds, and a per-token
// byte form of the decoder (decode.ts) so that streaming is exact.
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { byteFallbackValue, byteLevelBytes, utf8, type DecodeModel } from './decode.js';

export class TokenizerJsonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenizerJsonError';
  }
}

export interface JsonAddedToken {
  id: number;
  content: string;
  special?: boolean;
  lstrip?: boolean;
  rstrip?: boolean;
  single_word?: boolean;
  normalized?: boolean;
}

export class JsonBackend {
  readonly hf: HfTokenizer;
  readonly vocab: Map<string, number>;
  private readonly idToTok: (string | undefined)[];

  constructor(
    readonly json: Record<string, any>,
    config: Record<string, unknown>,
    what: string,
  ) {
    if (!json || typeof json !== 'object' || !json.model) {
      throw new TokenizerJsonError(`${what}: no "model" section (not a Hugging Face tokenizer.json)`);
    }
    for (const key of ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder', 'added_tokens']) {
      if (!(key in json)) json[key] = key === 'added_tokens' ? [] : null;
    }
    try {
      this.hf = new HfTokenizer(json, config);
    } catch (e) {
      throw new TokenizerJsonError(`${what}: cannot be loaded (${(e as Error).message})`);
    }
    this.vocab = this.hf.get_vocab(true);
    this.idToTok = [];
    for (const [tok, id] of this.vocab) this.idToTok[id] = tok;
  }

  encodeContent(text: string): number[] {
    if (text.length === 0) return [];
    return this.hf.encode(text, { add_special_tokens: false }).ids;
  }

  tokenize(text: string): string[] {
    if (text.length === 0) return [];
    return this.hf.encode(text, { add_special_tokens: false }).tokens;
  }

  idToToken(id: number): string | undefined {
    return this.idToTok[id];
  }

  tokenToId(token: string): number | undefined {
    return this.vocab.get(token);
  }

  /** Ids the post-processor puts before and after a single sequence. */
  specialAround(): { prefix: number[]; suffix: number[] } {
    return postProcessorIds(this.json.post_processor, (t) => this.vocab.get(t));
  }

  /** The decoder as per-token bytes, or undefined when it has no such form (then re-decode). */
  decodeModel(isSpecial: (id: number) => boolean, cleanup: boolean): DecodeModel | undefined {
    const steps = flattenDecoder(this.json.decoder);
    if (!steps) return undefined;
    const perToken = compileSteps(steps);
    if (!perToken) return undefined;
    return {
      tokenBytes: (id, first) => {
        const tok = this.idToTok[id];
        return tok === undefined ? undefined : perToken.bytes(tok, first);
      },
      isSpecial,
      stripLeadingSpace: perToken.stripLeadingSpace,
      cleanup,
    };
  }

  /** Plain decode through @huggingface/tokenizers (decoders without a byte form). */
  decodeAll(ids: number[], skipSpecialTokens: boolean, cleanup: boolean): string {
    if (ids.length === 0) return '';
    return this.hf.decode(ids, { skip_special_tokens: skipSpecialTokens, clean_up_tokenization_spaces: cleanup });
  }
}

function postProcessorIds(pp: any, lookup: (t: string) => number | undefined): { prefix: number[]; suffix: number[] } {
  const none = { prefix: [] as number[], suffix: [] as number[] };
  if (!pp) return none;
  switch (pp.type) {
    case 'TemplateProcessing': {
      const prefix: number[] = [];
      const suffix: number[] = [];
      let seen = false;
      for (const item of pp.single ?? []) {
        if (item.Sequence) {
          seen = true;
          continue;
        }
        const name = item.SpecialToken?.id;
        const ids: number[] | undefined = pp.special_tokens?.[name]?.ids;
        if (!ids) throw new TokenizerJsonError(`tokenizer.json: post_processor names special token ${name} but does not define it`);
        (seen ? suffix : prefix).push(...ids);
      }
      return { prefix, suffix };
    }
    case 'BertProcessing':
    case 'RobertaProcessing': {
      const cls = pp.cls?.[1] ?? lookup(pp.cls?.[0]);
      const sep = pp.sep?.[1] ?? lookup(pp.sep?.[0]);
      return { prefix: cls === undefined ? [] : [cls], suffix: sep === undefined ? [] : [sep] };
    }
    case 'Sequence': {
      const out = { prefix: [] as number[], suffix: [] as number[] };
      for (const p of pp.processors ?? []) {
        const r = postProcessorIds(p, lookup);
        out.prefix.push(...r.prefix);
        out.suffix.push(...r.suffix);
      }
      return out;
    }
    default:
      return none; // ByteLevel (offsets only) and unknown processors add no tokens
  }
}

function flattenDecoder(d: any): any[] | undefined {
  if (!d) return undefined; // no decoder: Rust joins tokens with spaces, which has no byte form
  if (d.type === 'Sequence') {
    const out: any[] = [];
    for (const x of d.decoders ?? []) {
      const f = flattenDecoder(x);
      if (!f) return undefined;
      out.push(...f);
    }
    return out;
  }
  return [d];
}

interface PerToken {
  bytes(token: string, first: boolean): Uint8Array;
  stripLeadingSpace: boolean;
}

/**
 * Compiles the decoders that work token by token: Replace (string patterns), ByteFallback,
 * Fuse, a final Strip of one leading space, Metaspace, ByteLevel. Anything else: undefined.
 */
function compileSteps(steps: any[]): PerToken | undefined {
  const stringOps: ((t: string, first: boolean) => string)[] = [];
  let mode: 'text' | 'bytefallback' | 'bytelevel' = 'text';
  let fused = false;
  let stripLeadingSpace = false;
  for (const s of steps) {
    if (stripLeadingSpace) return undefined; // nothing may follow the final Strip
    switch (s.type) {
      case 'Replace': {
        const pat = s.pattern?.String;
        if (typeof pat !== 'string' || mode !== 'text' || pat === '') return undefined;
        const content = String(s.content ?? '');
        stringOps.push((t) => t.replaceAll(pat, content));
        break;
      }
      case 'Metaspace': {
        if (mode !== 'text') return undefined;
        const rep: string = s.replacement ?? '\u2581';
        const scheme: string = s.prepend_scheme ?? (s.add_prefix_space === false ? 'never' : 'always');
        // Rust Metaspace: in the first token every replacement char is dropped, elsewhere it becomes a space.
        stringOps.push((t, first) => t.replaceAll(rep, first && scheme !== 'never' ? '' : ' '));
        break;
      }
      case 'ByteFallback':
        if (mode !== 'text') return undefined;
        mode = 'bytefallback';
        break;
      case 'ByteLevel':
        if (mode !== 'text' || stringOps.length) return undefined;
        mode = 'bytelevel';
        break;
      case 'Fuse':
        fused = true;
        break;
      case 'Strip': {
        const start = s.start ?? 0;
        const stop = s.stop ?? 0;
        if (s.content !== ' ' || stop !== 0 || start > 1 || (!fused && start > 0)) return undefined;
        stripLeadingSpace = start === 1;
        break;
      }
      default:
        return undefined;
    }
  }
  return {
    stripLeadingSpace,
    bytes(token, first) {
      if (mode === 'bytelevel') return byteLevelBytes(token);
      let t = token;
      for (const op of stringOps) t = op(t, first);
      if (mode === 'bytefallback') {
        const b = byteFallbackValue(t);
        if (b >= 0) return Uint8Array.of(b);
      }
      return utf8(t);
    },
  };
}
