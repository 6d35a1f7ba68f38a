// The server's image header check and decoder: the engine's own (Pillow-exact, header parsed
// without decoding), so the server feeds models exactly the pixels the library API would.
// Imported from processors/ rather than index.ts so the server does not load every model module
// just to decode an image; this file is the one place to change if that moves.
import { InputError, type DecodedImage } from '../api.js';
import {
  decodeImage as engineDecodeImage,
  readImageHeader as engineReadImageHeader,
  type ImageHeader,
} from '../processors/image.js';

export { sniffFormat, type ImageFormat, type ImageHeader } from '../processors/image.js';

/** Format and size from the header only (no pixel decoding). Errors name `name`. */
export async function readImageHeader(bytes: Uint8Array, name = 'image'): Promise<ImageHeader> {
  return engineReadImageHeader(bytes, name);
}

/** Decodes to RGB uint8 as the models expect it, refusing more than maxPixels. Errors name `name`. */
export async function decodeImage(bytes: Uint8Array, opts: { maxPixels: number; name?: string }): Promise<DecodedImage> {
  try {
    return await engineDecodeImage(bytes, { maxPixels: opts.maxPixels });
  } catch (err) {
    // The engine names encoded bytes "image"; say which request field it was.
    if (err instanceof InputError && opts.name) throw new InputError(err.message.replace(/^image: /, `${opts.name}: `));
    throw err;
  }
}
