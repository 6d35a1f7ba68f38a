// Reads a JSON request body without ever holding more than the limit: a declared or streamed size
// over maxBytes is a 413 before parsing; bad UTF-8 or bad JSON is a 400; a body that has not
// arrived within timeoutMs is a 408 (a client sending a byte now and then cannot hold a request).
import { ApiError, badRequest, tooLarge } from './errors.js';
import { DEFAULT_LIMITS } from './limits.js';

export async function readJsonBody(req: Request, maxBytes: number, timeoutMs = DEFAULT_LIMITS.bodyTimeoutMs): Promise<unknown> {
  const declared = req.headers.get('content-length');
  if (declared !== null && Number(declared) > maxBytes) {
    throw tooLarge(`request body is ${declared} bytes (limit ${maxBytes})`);
  }
  if (!req.body) throw badRequest('request body is empty (expected JSON)', null, 'invalid_json');
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new ApiError(408, `the request body did not arrive within ${timeoutMs} ms`, 'body_timeout', null, undefined, { Connection: 'close' }));
      // After the rejection, so the read that this cancel ends cannot win the race.
      setImmediate(() => void reader.cancel().catch(() => {}));
    }, timeoutMs);
  });
  timedOut.catch(() => {});
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), timedOut]);
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        void reader.cancel().catch(() => {});
        throw tooLarge(`request body is over ${maxBytes} bytes`);
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw badRequest(`request body could not be read: ${(err as Error).message}`, null, 'invalid_body');
  } finally {
    clearTimeout(timer);
  }
  if (size === 0) throw badRequest('request body is empty (expected JSON)', null, 'invalid_json');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks, size));
  } catch {
    throw badRequest('request body is not valid UTF-8', null, 'invalid_json');
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`malformed JSON in request body: ${(err as Error).message}`, null, 'invalid_json');
  }
}
