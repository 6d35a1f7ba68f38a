// The table of supported checkpoints. Each model file exports a `ModelEntry` (entry.ts: what
// identifies its checkpoints + how to load them); `loadModel`, the CLI's --help and the server's
// errors all read this one table, so adding a model touches its own file, one line here, a fixture
// and a test.
import type { LoadOptions } from '../api.js';
import type { CheckpointProbe, ModelEntry } from './entry.js';
import { siglipEntry } from './siglip.js';
import { sailEntry } from './sail.js';
import { hovleEntry } from './hovle/index.js';
import { decoderEntries } from './causal-lm.js';
import { seedV1Entry, seedV2Entry } from './seed/seed-tokenizer.js';
import { seedLlamaEntry } from './seed-llama/seed-llama.js';

export type { CheckpointProbe, ModelEntry } from './entry.js';
export { probeCheckpoint } from './entry.js';

/** Order matters: the first match wins (SAIL is a Mistral config with vision fields). */
export const MODEL_REGISTRY: readonly ModelEntry[] = [
  sailEntry,
  hovleEntry,
  siglipEntry,
  seedLlamaEntry, // a llama config: before the plain decoders
  ...decoderEntries,
  seedV2Entry,
  seedV1Entry,
];

export function findModelEntry(p: CheckpointProbe, opts?: LoadOptions): ModelEntry | undefined {
  return MODEL_REGISTRY.find((e) => e.matches(p, opts));
}

/** One line per entry for help texts: "  sail         SAIL: …". */
export function supportedModelsText(indent = '  '): string {
  const w = Math.max(...MODEL_REGISTRY.map((e) => e.id.length)) + 2;
  return MODEL_REGISTRY.map((e) => `${indent}${e.id.padEnd(w)}${e.describe}`).join('\n');
}

export function supportedModelIds(): string[] {
  return MODEL_REGISTRY.map((e) => e.id);
}
