// Image URLs from requests → decoded pixels. Only `data:image/...;base64,` URLs, plus `file://`
// paths inside --image-dir; the server never fetches http(s) (no SSRF, no waiting on the network).
// The size is checked from the header before decoding, so a decompression bomb costs nothing.
import { constants } from 'node:fs';
import { open, readlink, realpath, type FileHandle } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError, type DecodedImage } from '../api.js';
import { ApiError, badRequest, tooLarge } from './errors.js';
import { decodeImage, readImageHeader } from './image-codec.js';

export interface ImageLimits {
  maxPixels: number;
  /** Largest encoded image read from a file:// path. */
  maxBytes: number;
  /** Resolved --image-dir, or undefined when file:// URLs are off. */
  localImageDir?: string;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Decodes the base64 payload of a data: URL, refusing anything that is not strict base64. */
export function parseDataUrl(url: string, param: string): Uint8Array {
  const comma = url.indexOf(',');
  const head = comma < 0 ? url : url.slice(0, comma);
  if (comma < 0 || !/^data:image\/[a-z0-9.+-]+(;[^;,]*)*;base64$/i.test(head)) {
    throw badRequest(`${param}: expected a data URL like "data:image/png;base64,..."`, param, 'invalid_image_url');
  }
  // Clients sometimes wrap base64 in lines; whitespace is not data.
  let payload = url.slice(comma + 1);
  if (/\s/.test(payload)) payload = payload.replace(/\s+/g, '');
  if (payload.length === 0 || payload.length % 4 === 1 || !BASE64.test(payload)) {
    throw badRequest(`${param}: the data URL is not valid base64`, param, 'invalid_base64');
  }
  const buf = Buffer.from(payload, 'base64');
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/**
 * Reads a file:// URL that must resolve (symlinks included) inside the image folder. The answer
 * never tells whether a path outside the folder exists: a path outside (lexically or through a
 * symlink) and a missing file get the same message. The file is opened once and checked through
 * its descriptor (/proc/self/fd on Linux gives the path actually opened), so swapping a symlink
 * between the check and the read cannot leak a file from outside; a file that vanishes midway is
 * a 400 without any path.
 */
async function readLocalFile(url: string, param: string, limits: ImageLimits): Promise<Uint8Array> {
  if (!limits.localImageDir) {
    throw badRequest(`${param}: file:// URLs are off; start the server with --image-dir DIR to allow them`, param, 'invalid_image_url');
  }
  let path: string;
  try {
    path = fileURLToPath(url);
  } catch {
    throw badRequest(`${param}: not a valid local file:// URL`, param, 'invalid_image_url');
  }
  const root = limits.localImageDir.endsWith(sep) ? limits.localImageDir : limits.localImageDir + sep;
  const inside = (p: string) => p.startsWith(root);
  if (!inside(resolve(path))) throw badRequest(`${param}: the path is outside --image-dir`, param, 'invalid_image_url');
  const missing = () => badRequest(`${param}: no such image file under --image-dir`, param, 'invalid_image_url');
  let handle: FileHandle | undefined;
  try {
    const real = await realpath(path);
    if (!inside(real)) throw missing();
    handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    const opened = await readlink(`/proc/self/fd/${handle.fd}`).catch(() => real);
    if (!inside(opened)) throw missing();
    const st = await handle.stat();
    if (!st.isFile()) throw badRequest(`${param}: not a regular file`, param, 'invalid_image_url');
    if (st.size > limits.maxBytes) {
      throw tooLarge(`${param}: the file is ${st.size} bytes (limit ${limits.maxBytes})`, param, 'image_too_large');
    }
    return new Uint8Array(await handle.readFile());
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw missing();
  } finally {
    await handle?.close().catch(() => {});
  }
}

/** Bytes of an image URL (data: or file://); anything else is refused with a 400 that says why. */
export async function imageBytes(url: string, param: string, limits: ImageLimits): Promise<Uint8Array> {
  const scheme = url.slice(0, url.indexOf(':') + 1).toLowerCase();
  if (scheme === 'data:') return parseDataUrl(url, param);
  if (scheme === 'file:') return readLocalFile(url, param, limits);
  if (scheme === 'http:' || scheme === 'https:') {
    throw badRequest(`${param}: remote image URLs are not fetched; send the image as a data: URL`, param, 'invalid_image_url');
  }
  throw badRequest(`${param}: unsupported image URL (expected data:image/...;base64,...)`, param, 'invalid_image_url');
}

function clientError(err: unknown, param: string): unknown {
  if (err instanceof InputError) return badRequest(err.message, param, 'invalid_image');
  return err;
}

/** Header check only (format, pixel count; no pixel decoded). Errors name the request field. */
export async function checkImageHeader(bytes: Uint8Array, param: string, limits: ImageLimits): Promise<void> {
  try {
    const header = await readImageHeader(bytes, param);
    const pixels = header.width * header.height;
    if (pixels > limits.maxPixels) {
      throw tooLarge(
        `${param}: the image is ${header.width}x${header.height} (${pixels} pixels; limit ${limits.maxPixels})`,
        param,
        'image_too_large',
      );
    }
  } catch (err) {
    throw clientError(err, param);
  }
}

/** Header check (format, pixel count) then decode; errors name the request field. */
export async function decodeImageBytes(bytes: Uint8Array, param: string, limits: ImageLimits): Promise<DecodedImage> {
  await checkImageHeader(bytes, param, limits);
  try {
    return await decodeImage(bytes, { maxPixels: limits.maxPixels, name: param });
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw clientError(err, param);
  }
}

/**
 * An image URL's bytes with the header checked, but no pixel decoded: what a request holds while it
 * waits in the queue (its encoded bytes are in the body already). Decoding waits for the request's
 * turn (decodeImageBytes), so queued requests cost no decoded memory.
 */
export async function checkedImageBytes(url: string, param: string, limits: ImageLimits): Promise<Uint8Array> {
  const bytes = await imageBytes(url, param, limits);
  await checkImageHeader(bytes, param, limits);
  return bytes;
}

export async function resolveImage(url: string, param: string, limits: ImageLimits): Promise<DecodedImage> {
  return decodeImageBytes(await imageBytes(url, param, limits), param, limits);
}
