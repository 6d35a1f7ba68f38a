// SEED-LLaMA's image tokens: code c ↔ token `<img_%05d>` (id = first code id + c), an image is
// `<img>` + 32 code tokens + `</img>`. The layout is read from the tokenizer (the real 40194-token
// vocabulary puts `<img_00000>` at 32000; tests use smaller ones), never assumed.
import { InputError } from '../../api.js';
import { CheckpointError } from '../../io/checkpoint.js';
import type { Tokenizer } from '../../tokenizers/index.js';

export const BOI_TOKEN = '<img>';
export const EOI_TOKEN = '</img>';
export const codeToken = (c: number) => `<img_${String(c).padStart(5, '0')}>`;

export interface ImageTokenLayout {
  boi: number;
  eoi: number;
  /** Token id of code 0; code c is firstCode + c. */
  firstCode: number;
  codebookSize: number;
  codesPerImage: number;
}

/** True when a tokenizer carries SEED's image tokens. */
export function hasImageTokens(tok: Tokenizer): boolean {
  return tok.tokenToId(BOI_TOKEN) !== undefined && tok.tokenToId(EOI_TOKEN) !== undefined && tok.tokenToId(codeToken(0)) !== undefined;
}

/**
 * The image-token layout of a tokenizer. `codebookSize`: the image tokenizer's when known, else
 * the number of consecutive `<img_%05d>` tokens.
 */
export function imageTokenLayout(tok: Tokenizer, where: string, codesPerImage: number, codebookSize?: number): ImageTokenLayout {
  const boi = tok.tokenToId(BOI_TOKEN);
  const eoi = tok.tokenToId(EOI_TOKEN);
  const firstCode = tok.tokenToId(codeToken(0));
  if (boi === undefined || eoi === undefined || firstCode === undefined) {
    throw new CheckpointError(`${where}: the tokenizer has no SEED image tokens (${BOI_TOKEN}, ${EOI_TOKEN}, ${codeToken(0)}…); use the tokenizer of the SEED image tokenizer folder`);
  }
  let n = codebookSize;
  if (n === undefined) {
    n = 1;
    while (tok.tokenToId(codeToken(n)) === firstCode + n) n++;
  } else if (tok.tokenToId(codeToken(n - 1)) !== firstCode + n - 1) {
    throw new CheckpointError(`${where}: the tokenizer's image tokens do not cover the image tokenizer's ${n} codes (${codeToken(n - 1)} is not id ${firstCode + n - 1})`);
  }
  return { boi, eoi, firstCode, codebookSize: n, codesPerImage };
}

/** Token ids of one image span: `<img>` codes… `</img>`. */
export function spanIds(l: ImageTokenLayout, codes: readonly number[]): number[] {
  checkCodes(l, codes, 'image codes');
  return [l.boi, ...codes.map((c) => l.firstCode + c), l.eoi];
}

/** The span as prompt text (the reference writes spans as text and tokenizes the whole prompt). */
export function spanText(l: ImageTokenLayout, codes: readonly number[]): string {
  checkCodes(l, codes, 'image codes');
  return BOI_TOKEN + codes.map(codeToken).join('') + EOI_TOKEN;
}

export function checkCodes(l: ImageTokenLayout, codes: readonly number[], what: string): void {
  if (!Array.isArray(codes) || codes.length !== l.codesPerImage) {
    throw new InputError(`${what}: expected ${l.codesPerImage} codes, got ${Array.isArray(codes) ? codes.length : typeof codes}`);
  }
  for (const c of codes) {
    if (!Number.isInteger(c) || c < 0 || c >= l.codebookSize) throw new InputError(`${what}: code ${c} is outside 0..${l.codebookSize - 1}`);
  }
}

/**
 * The codes of a generated span (ids between `<img>` and `</img>`), or why the span is not an image:
 * the spec requires exactly `codesPerImage` codes, each an image token.
 */
export function spanCodes(l: ImageTokenLayout, ids: readonly number[], index: number, closed: boolean): { codes: number[]; error?: string } {
  const codes = ids.map((id) => id - l.firstCode);
  const name = `image ${index + 1} of the reply`;
  if (!closed) {
    const got = ids.length < l.codesPerImage ? `after ${ids.length} of ${l.codesPerImage} codes` : `after ${ids.length} tokens (an image has ${l.codesPerImage} codes)`;
    return { codes, error: `${name} was cut off ${got}: no ${EOI_TOKEN} before the end of generation` };
  }
  if (ids.length !== l.codesPerImage) return { codes, error: `${name} has ${ids.length} codes between ${BOI_TOKEN} and ${EOI_TOKEN}; an image has exactly ${l.codesPerImage}` };
  const bad = ids.findIndex((id) => id < l.firstCode || id >= l.firstCode + l.codebookSize);
  if (bad >= 0) return { codes, error: `${name}: token ${ids[bad]} at position ${bad + 1} of the span is not an image code (ids ${l.firstCode}..${l.firstCode + l.codebookSize - 1})` };
  return { codes };
}
