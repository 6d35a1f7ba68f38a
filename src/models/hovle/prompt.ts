// HoVLE's prompt side: InternVL dynamic tiling with the checkpoint's settings, and the
// internlm2-chat conversation (conversation.py, MPT separator style) with <image> placeholders
// expanded to <img> + <IMG_CONTEXT>×(rows per tile · tiles) + </img> (modeling_internvl_chat.chat).
import type { ChatMessage } from '../../api.js';
import { InputError } from '../../api.js';
import { internvlCandidateGrids, internvlGrid, internvlTiles, type InternvlTiles, type RGBPixels } from '../../processors/vision.js';
import { textOf } from '../causal-lm.js';
import type { HovleConfig } from './model.js';

/** conversation.py's internlm2-chat system message (InternVL's), used when the conversation has none. */
export const INTERNVL_SYSTEM_MESSAGE = '你是由上海人工智能实验室联合商汤科技开发的书生多模态大模型，英文名叫InternVL, 是一个有用无害的人工智能助手。';

export const IMG_START = '<img>';
export const IMG_END = '</img>';
export const IMG_CONTEXT = '<IMG_CONTEXT>';
export const IM_START = '<|im_start|>';
export const IM_END = '<|im_end|>';

/** Most tiles per image a request may ask for. */
export const MAX_TILES_LIMIT = 40;

function tileLimit(cfg: HovleConfig, maxNum: number | undefined): number {
  const n = maxNum ?? cfg.maxDynamicPatch;
  if (!Number.isInteger(n) || n < 1 || n > MAX_TILES_LIMIT) throw new InputError(`maxTiles must be an integer from 1 to ${MAX_TILES_LIMIT} (got ${n})`);
  return cfg.dynamicImageSize ? n : 1;
}

/** dynamic_preprocess + build_transform with the checkpoint's settings; `maxNum` overrides max_dynamic_patch. */
export function hovleTiles(img: RGBPixels, cfg: HovleConfig, maxNum?: number): InternvlTiles {
  const max = tileLimit(cfg, maxNum);
  return internvlTiles(img, { imageSize: cfg.imageSize, minNum: Math.min(cfg.minDynamicPatch, max), maxNum: max, useThumbnail: cfg.useThumbnail });
}

/** Tiles an image would give, from its size alone. */
export function hovleTileCount(width: number, height: number, cfg: HovleConfig, maxNum?: number): number {
  const max = tileLimit(cfg, maxNum);
  const [cols, rows] = internvlGrid(width, height, cfg.imageSize, internvlCandidateGrids(Math.min(cfg.minDynamicPatch, max), max));
  return cols * rows + (cfg.useThumbnail && cols * rows > 1 ? 1 : 0);
}

/**
 * The internlm2-chat prompt text: `<|im_start|>system\n{system}<|im_end|>` + turns
 * `<|im_start|>user\n{q}<|im_end|><|im_start|>assistant\n{a}<|im_end|>` + the open assistant
 * header. A user message with images gets `<image>\n` in front for each image its text does not
 * place; each `<image>` (in order) becomes that image's span from `spans`.
 */
export function hovlePromptText(messages: ChatMessage[], spans: string[], defaultSystem = INTERNVL_SYSTEM_MESSAGE): string {
  const systems = messages.filter((m) => m.role === 'system').map((m) => textOf(m));
  let out = `${IM_START}system\n${systems.length ? systems.join('\n') : defaultSystem}${IM_END}`;
  for (const m of messages) {
    if (m.role === 'system') continue;
    let t = textOf(m);
    if (m.role === 'user') {
      const images = typeof m.content === 'string' ? 0 : m.content.filter((p) => p.type === 'image').length;
      const placed = t.split('<image>').length - 1;
      if (images > placed) t = '<image>\n'.repeat(images - placed) + t;
      out += `${IM_START}user\n${t}${IM_END}`;
    } else out += `${IM_START}assistant\n${t}${IM_END}`;
  }
  out += `${IM_START}assistant\n`;
  let k = 0;
  // Placeholders beyond the images given stay text, as the reference's replace(…, 1) per image leaves them.
  return out.replace(/<image>/g, (m) => (k < spans.length ? spans[k++]! : m));
}

/** `<img>` + `<IMG_CONTEXT>`×rows + `</img>`. */
export function imageSpan(rows: number): string {
  return IMG_START + IMG_CONTEXT.repeat(rows) + IMG_END;
}
