// Reads the tokenizer files of a Hugging Face model folder and resolves what transformers
// resolves from them: special tokens (tokenizer_config.json, then special_tokens_map.json on
// top, as PreTrainedTokenizerBase.from_pretrained does), added tokens (added_tokens_decoder,
// else the older added_tokens.json), chat templates (chat_template.jinja, the config, named
// lists, additional_chat_templates/, chat_template.json) and generation eos ids.
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddedTokenSpec } from './added-tokens.js';
import { clipTokenizerJson, isClipTokenizerClass } from './clip-bpe.js';

export class TokenizerLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenizerLoadError';
  }
}

/** The special-token attributes of transformers' SPECIAL_TOKENS_ATTRIBUTES, in its order. */
export const SPECIAL_TOKEN_KEYS = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'] as const;
export type SpecialTokenKey = (typeof SPECIAL_TOKEN_KEYS)[number];

/** A special token as written in the files: its text and optional AddedToken flags. */
export interface TokenValue {
  content: string;
  lstrip?: boolean;
  rstrip?: boolean;
  normalized?: boolean;
  single_word?: boolean;
}

export interface TokenizerFolder {
  dir: string;
  /** tokenizer_config.json with special_tokens_map.json applied (raw values). */
  config: Record<string, any>;
  tokenizerJson?: Record<string, any>;
  spModel?: { file: string; bytes: Uint8Array };
  special: Partial<Record<SpecialTokenKey, TokenValue>>;
  additionalSpecial: TokenValue[];
  /** Added tokens with known ids: added_tokens_decoder, else added_tokens.json. */
  addedTokens: AddedTokenSpec[];
  /** Template name → Jinja source; the unnamed/main one is 'default'. */
  chatTemplates: Map<string, string>;
  /** eos_token_id of generation_config.json (a number or a list). */
  generationEosIds: number[];
}

async function readJson(path: string): Promise<Record<string, any> | undefined> {
  if (!existsSync(path)) return undefined;
  const text = await readFile(path, 'utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new TokenizerLoadError(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

/** A token value from the files: "text", {content: "text", ...}, {__type: "AddedToken", ...} or null. */
export function tokenValue(v: unknown): TokenValue | undefined {
  if (typeof v === 'string') return { content: v };
  if (v && typeof v === 'object' && typeof (v as any).content === 'string') {
    const o = v as Record<string, unknown>;
    return {
      content: o.content as string,
      lstrip: o.lstrip as boolean | undefined,
      rstrip: o.rstrip as boolean | undefined,
      normalized: o.normalized as boolean | undefined,
      single_word: o.single_word as boolean | undefined,
    };
  }
  return undefined;
}

function tokenList(v: unknown): TokenValue[] {
  if (Array.isArray(v)) return v.map(tokenValue).filter((x): x is TokenValue => x !== undefined);
  // transformers 4.5x writes extra_special_tokens as {name: token}.
  if (v && typeof v === 'object') return Object.values(v).map(tokenValue).filter((x): x is TokenValue => x !== undefined);
  return [];
}

const SP_FILES = ['tokenizer.model', 'spiece.model'];

export async function readTokenizerFolder(dir: string): Promise<TokenizerFolder> {
  if (!existsSync(dir)) throw new TokenizerLoadError(`tokenizer folder ${dir} does not exist`);
  let tokenizerJson = await readJson(join(dir, 'tokenizer.json'));
  let spModel: TokenizerFolder['spModel'];
  for (const f of SP_FILES) {
    const p = join(dir, f);
    if (existsSync(p)) {
      spModel = { file: p, bytes: new Uint8Array(await readFile(p)) };
      break;
    }
  }
  const config: Record<string, any> = { ...((await readJson(join(dir, 'tokenizer_config.json'))) ?? {}) };
  const stMap = (await readJson(join(dir, 'special_tokens_map.json'))) ?? {};
  for (const [k, v] of Object.entries(stMap)) config[k] = v;
  // Stable Diffusion's CLIP tokenizers ship only the slow files (vocab.json + merges.txt).
  if (!tokenizerJson && !spModel && isClipTokenizerClass(config.tokenizer_class)) tokenizerJson = await clipTokenizerJson(dir, config);
  if (!tokenizerJson && !spModel) {
    throw new TokenizerLoadError(
      `${dir}: no tokenizer.json, tokenizer.model or spiece.model (expected a Hugging Face model folder with tokenizer files)`,
    );
  }

  const special: TokenizerFolder['special'] = {};
  for (const key of SPECIAL_TOKEN_KEYS) {
    const v = tokenValue(config[key]);
    if (v) special[key] = v;
  }
  const additional = [...tokenList(config.additional_special_tokens), ...tokenList(config.extra_special_tokens)];
  const seen = new Set<string>();
  const additionalSpecial = additional.filter((t) => !seen.has(t.content) && seen.add(t.content));

  const specialContents = new Set([...Object.values(special).map((t) => t!.content), ...additionalSpecial.map((t) => t.content)]);
  const addedTokens: AddedTokenSpec[] = [];
  const decoderMap = config.added_tokens_decoder;
  if (decoderMap && typeof decoderMap === 'object') {
    for (const [idStr, raw] of Object.entries(decoderMap as Record<string, any>)) {
      const id = Number(idStr);
      const v = tokenValue(raw);
      if (!Number.isInteger(id) || !v) {
        throw new TokenizerLoadError(`${join(dir, 'tokenizer_config.json')}: added_tokens_decoder entry ${idStr} is malformed`);
      }
      addedTokens.push({
        id,
        content: v.content,
        special: Boolean(raw.special),
        lstrip: Boolean(v.lstrip),
        rstrip: Boolean(v.rstrip),
        singleWord: Boolean(v.single_word),
        normalized: v.normalized ?? !raw.special,
      });
    }
  }
  const addedJson = await readJson(join(dir, 'added_tokens.json'));
  if (addedJson) {
    const known = new Set(addedTokens.map((t) => t.content));
    for (const [content, id] of Object.entries(addedJson)) {
      if (known.has(content)) continue;
      if (!Number.isInteger(id)) throw new TokenizerLoadError(`${join(dir, 'added_tokens.json')}: id of ${JSON.stringify(content)} is not an integer`);
      const isSpecial = specialContents.has(content);
      addedTokens.push({ id: id as number, content, special: isSpecial, lstrip: false, rstrip: false, singleWord: false, normalized: !isSpecial });
    }
  }

  const chatTemplates = await readChatTemplates(dir, config);
  const gen = await readJson(join(dir, 'generation_config.json'));
  const genEos = gen?.eos_token_id;
  const generationEosIds = Array.isArray(genEos) ? genEos.filter(Number.isInteger) : Number.isInteger(genEos) ? [genEos] : [];

  return { dir, config, tokenizerJson, spModel, special, additionalSpecial, addedTokens, chatTemplates, generationEosIds };
}

async function readChatTemplates(dir: string, config: Record<string, any>): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  // Lowest priority first; later sources overwrite.
  const processorTpl = await readJson(join(dir, 'chat_template.json'));
  if (typeof processorTpl?.chat_template === 'string') out.set('default', processorTpl.chat_template);
  const ct = config.chat_template;
  if (typeof ct === 'string') out.set('default', ct);
  else if (Array.isArray(ct)) {
    for (const entry of ct) {
      if (entry && typeof entry.name === 'string' && typeof entry.template === 'string') out.set(entry.name, entry.template);
    }
  }
  const extraDir = join(dir, 'additional_chat_templates');
  if (existsSync(extraDir)) {
    for (const f of (await readdir(extraDir)).sort()) {
      if (f.endsWith('.jinja')) out.set(f.slice(0, -'.jinja'.length), await readFile(join(extraDir, f), 'utf8'));
    }
  }
  const jinja = join(dir, 'chat_template.jinja');
  if (existsSync(jinja)) out.set('default', await readFile(jinja, 'utf8'));
  return out;
}
