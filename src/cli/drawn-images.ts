// Images a model draws in a chat reply (SEED-LLaMA): written as PNG files next to the streamed text.
import { existsSync, mkdirSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { GeneratedImage } from '../api.js';
import { encodePng } from '../processors/image-encode.js';

/**
 * Writes one drawn image to `outDir` as `<stem>-<n>.png` (never overwriting an existing file: the
 * first free n), through a temp file + rename so a killed run leaves no half-written PNG. Returns the path, or undefined for an image without pixels.
 */
export async function writeDrawnImage(g: GeneratedImage, outDir: string, stem: string, used: Set<string>): Promise<string | undefined> {
  if (!g.image) return undefined;
  mkdirSync(outDir, { recursive: true });
  const png = await encodePng(g.image);
  for (let n = g.index + 1; ; n++) {
    const path = join(outDir, `${stem}-${n}.png`);
    if (used.has(path) || existsSync(path)) continue;
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, png);
    renameSync(tmp, path);
    used.add(path);
    return path;
  }
}

/** One line about a drawn image for the terminal: where it went, or why there is no picture. */
export function drawnImageLine(g: GeneratedImage, path: string | undefined): string {
  if (g.error) return `[image ${g.index + 1}: ${g.error}]`;
  if (path) return `[image ${g.index + 1}: ${path}]`;
  return `[image ${g.index + 1}: codes ${g.codes.join(',')} (no renderer loaded: --diffusion DIR draws the pixels)]`;
}
