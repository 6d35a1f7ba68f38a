// `tsvlm tokenize --model DIR --image FILE… [--json]`: one list of codes per image, in order,
// from an image tokenizer (SEED). Reached through the library API only.
import type { ImageTokenizer, Model } from '../api.js';

export interface TokenizeArgs {
  images: string[];
  json?: boolean;
  /** Loads --model and checks that it is an image tokenizer (main.ts's loader). */
  load: () => Promise<Model>;
  out?: (s: string) => void;
}

export async function runTokenize(a: TokenizeArgs): Promise<void> {
  const out = a.out ?? ((s: string) => process.stdout.write(s));
  const m = (await a.load()) as ImageTokenizer;
  try {
    const codes = await m.encode(a.images);
    if (a.json) {
      out(JSON.stringify({
        model: m.info.name,
        model_type: m.info.modelType,
        codes_per_image: m.codesPerImage,
        codebook_size: m.codebookSize,
        images: a.images.map((image, i) => ({ image, codes: codes[i] })),
      }) + '\n');
    } else {
      // One line per image: the file, a tab, the codes separated by spaces.
      a.images.forEach((image, i) => out(`${image}\t${codes[i]!.join(' ')}\n`));
    }
  } finally {
    await m.dispose();
  }
}
