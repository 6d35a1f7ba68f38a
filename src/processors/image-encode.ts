// Encoding decoded pixels (images a model drew) as PNG, for files, data URLs and responses.
import sharp from 'sharp';
import type { DecodedImage } from '../api.js';

export async function encodePng(img: DecodedImage): Promise<Buffer> {
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels } }).png().toBuffer();
}

export async function pngDataUrl(img: DecodedImage): Promise<string> {
  return `data:image/png;base64,${(await encodePng(img)).toString('base64')}`;
}
