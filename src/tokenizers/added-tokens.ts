// Added tokens (special tokens, <vision>-style markers, image codes) and the way transformers'
// Python tokenizers cut them out of text before the subword model runs
// (PreTrainedTokenizer.tokenize + Trie.split in transformers/tokenization_utils.py).

export interface AddedTokenSpec {
  id: number;
  content: string;
  /** Special tokens are dropped by decode({skipSpecialTokens: true}). */
  special: boolean;
  /** Eats the whitespace on its left / right when splitting. */
  lstrip: boolean;
  rstrip: boolean;
  /** Only matches as a whole word. */
  singleWord: boolean;
  normalized: boolean;
}

/** Characters for which Python's str.isspace() is true (what str.strip()/lstrip()/rstrip() remove). */
const PY_SPACE = new Set([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003,
  0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);

export function isPySpace(ch: number): boolean {
  return PY_SPACE.has(ch);
}

export function pyLstrip(s: string): string {
  let i = 0;
  while (i < s.length && PY_SPACE.has(s.charCodeAt(i))) i++;
  return s.slice(i);
}

export function pyRstrip(s: string): string {
  let j = s.length;
  while (j > 0 && PY_SPACE.has(s.charCodeAt(j - 1))) j--;
  return s.slice(0, j);
}

export function pyStrip(s: string): string {
  return pyRstrip(pyLstrip(s));
}

interface TrieNode {
  end?: string;
  next: Map<number, TrieNode>;
}

/** Splits text on added tokens: leftmost match first, the longest one at that position. */
export class AddedTokenSplitter {
  private readonly root: TrieNode = { next: new Map() };
  private readonly byContent = new Map<string, AddedTokenSpec>();

  constructor(tokens: Iterable<AddedTokenSpec>) {
    for (const t of tokens) {
      if (t.content === '') continue;
      this.byContent.set(t.content, t);
      let node = this.root;
      for (let i = 0; i < t.content.length; i++) {
        const c = t.content.charCodeAt(i);
        let nx = node.next.get(c);
        if (!nx) {
          nx = { next: new Map() };
          node.next.set(c, nx);
        }
        node = nx;
      }
      node.end = t.content;
    }
  }

  get(content: string): AddedTokenSpec | undefined {
    return this.byContent.get(content);
  }

  get size(): number {
    return this.byContent.size;
  }

  /** Raw cut: text pieces and matched token contents, in order (no stripping). */
  cut(text: string): string[] {
    const out: string[] = [];
    if (this.byContent.size === 0) return text ? [text] : [];
    let start = 0;
    let i = 0;
    while (i < text.length) {
      let node: TrieNode | undefined = this.root;
      let match: string | undefined;
      for (let j = i; j < text.length; j++) {
        node = node.next.get(text.charCodeAt(j));
        if (!node) break;
        if (node.end !== undefined) match = node.end;
      }
      if (match !== undefined) {
        if (i > start) out.push(text.slice(start, i));
        out.push(match);
        i += match.length;
        start = i;
      } else {
        i++;
      }
    }
    if (start < text.length) out.push(text.slice(start));
    return out;
  }

  /**
   * transformers' slow-tokenizer split: cut, then apply each token's rstrip / lstrip /
   * single_word to its neighbours in order, then drop emptied pieces. Returns the pieces;
   * `isAdded(piece)` tells tokens from text.
   */
  split(text: string): string[] {
    const tokens = this.cut(text);
    for (let i = 0; i < tokens.length; i++) {
      const spec = this.byContent.get(tokens[i]);
      if (!spec) continue;
      const token = tokens[i];
      const left = i > 0 ? tokens[i - 1] : undefined;
      const right = i < tokens.length - 1 ? tokens[i + 1] : undefined;
      // rstrip: the token eats the whitespace on its right, so the right piece is lstripped.
      if (spec.rstrip && right) tokens[i + 1] = pyLstrip(right);
      if (spec.lstrip && left) tokens[i - 1] = pyRstrip(left);
      if (spec.singleWord && left && left[left.length - 1] !== ' ') {
        tokens[i - 1] += token;
        tokens[i] = '';
      } else if (spec.singleWord && right && right[0] !== ' ') {
        tokens[i + 1] = token + tokens[i + 1];
        tokens[i] = '';
      }
    }
    return tokens.filter((t) => t.length > 0);
  }

  isAdded(piece: string): boolean {
    return this.byContent.has(piece);
  }
}
