// HTTP errors in OpenAI's wire shape: {error: {message, type, param, code}}. Every failure a
// client can cause becomes an ApiError with the right status; anything else is a 500 (a bug).
import { InputError } from '../api.js';

export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string | null = null,
    readonly param: string | null = null,
    readonly type: string = errorType(status),
    /** Extra response headers (Retry-After for 429). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }

  body(): ErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

function errorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 429) return 'rate_limit_error';
  if (status === 503) return 'service_unavailable';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

export const badRequest = (message: string, param: string | null = null, code: string | null = null) =>
  new ApiError(400, message, code, param);

export const tooLarge = (message: string, param: string | null = null, code = 'request_too_large') =>
  new ApiError(413, message, code, param);

/**
 * Maps anything thrown while serving a request to an ApiError. InputError from a model means the
 * request was bad (400); other errors are bugs, reported as 500 (message only, no stack).
 */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof InputError || (err instanceof Error && err.name === 'InputError')) {
    return badRequest(err.message, null, 'invalid_input');
  }
  // The checkpoint's chat template refused the conversation (raise_exception: e.g. Llama-2 and
  // Mistral templates require alternating user/assistant roles) or hit its rendering bound.
  if (err instanceof Error && err.name === 'ChatTemplateError') return badRequest(err.message, 'messages', 'invalid_messages');
  const detail = err instanceof Error ? err.message : String(err);
  return new ApiError(500, `internal server error: ${detail}`, 'internal_error');
}
