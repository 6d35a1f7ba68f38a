// The models that ship with tsvlm (trained by this project; see models/*/README.md).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export const BUILTIN_MODELS = {
  /** SAIL-architecture VLM (chat about images). */
  chat: 'sail-scenes',
  /** SigLIP-architecture dual encoder (embed, classify). */
  embedding: 'siglip-scenes',
} as const;

/** The folder holding the built-in models. */
export function builtinRoot(): string {
  return join(root, 'models');
}

export function builtinModelDir(kind: keyof typeof BUILTIN_MODELS): string {
  const dir = join(root, 'models', BUILTIN_MODELS[kind]);
  if (!existsSync(join(dir, 'config.json'))) {
    throw new Error(`the built-in ${kind} model is missing (${dir}); pass --model DIR`);
  }
  return dir;
}
