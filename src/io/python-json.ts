// JSON as Python's json module writes it: `NaN`, `Infinity` and `-Infinity` as bare words
// (diffusers writes `"lambda_min_clipped": -Infinity` into real scheduler_config.json files),
// which JSON.parse rejects. Everything else is strict JSON.

const WORDS: Record<string, number> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };
/** A marker no real JSON string contains (a lone NUL is not valid unescaped JSON text). */
const MARK = '\u0000pyjson:';

/** Parses JSON text that may hold Python's non-finite number words outside strings. */
export function parsePythonJson(text: string): any {
  let out = '';
  let last = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      inString = true;
      continue;
    }
    if (c !== 'N' && c !== 'I' && c !== '-') continue;
    for (const word of Object.keys(WORDS)) {
      if (text.startsWith(word, i)) {
        out += text.slice(last, i) + JSON.stringify(MARK + word);
        i += word.length - 1;
        last = i + 1;
        break;
      }
    }
  }
  out += text.slice(last);
  if (last === 0) return JSON.parse(text);
  return JSON.parse(out, (_k, v) => (typeof v === 'string' && v.startsWith(MARK) ? WORDS[v.slice(MARK.length)] : v));
}
