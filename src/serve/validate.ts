// Small typed readers for untrusted JSON fields: each returns the value or throws a 400 that names
// the field (`param`) and what was expected. null counts as absent, as in OpenAI's API.
import { badRequest } from './errors.js';

export type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function requireObject(v: unknown, param: string): Json {
  if (!isObject(v)) throw badRequest(`${param} must be a JSON object`, param);
  return v;
}

export function requireString(v: unknown, param: string, opts: { nonEmpty?: boolean; maxLength?: number } = {}): string {
  if (typeof v !== 'string') throw badRequest(`${param} must be a string`, param);
  if (opts.nonEmpty && v.length === 0) throw badRequest(`${param} must not be empty`, param);
  if (opts.maxLength !== undefined && v.length > opts.maxLength) {
    throw badRequest(`${param} is longer than ${opts.maxLength} characters`, param);
  }
  return v;
}

export function optionalBoolean(v: unknown, param: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw badRequest(`${param} must be true or false`, param);
  return v;
}

/** A finite number in [min, max]; `exclusiveMin` makes the lower bound open. */
export function optionalNumber(
  v: unknown,
  param: string,
  range: { min: number; max: number; exclusiveMin?: boolean; integer?: boolean },
): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw badRequest(`${param} must be a number`, param);
  if (range.integer && !Number.isInteger(v)) throw badRequest(`${param} must be an integer`, param);
  const lowOk = range.exclusiveMin ? v > range.min : v >= range.min;
  if (!lowOk || v > range.max) {
    const low = range.exclusiveMin ? `> ${range.min}` : `>= ${range.min}`;
    throw badRequest(`${param} must be ${low} and <= ${range.max} (got ${v})`, param);
  }
  return v;
}

/** Refuses an OpenAI feature we do not implement unless it is absent or has its neutral value. */
export function refuseUnless(body: Json, key: string, neutral: (v: unknown) => boolean, why: string): void {
  const v = body[key];
  if (v === undefined || v === null || neutral(v)) return;
  throw badRequest(`${key} is not supported by this server: ${why}`, key, 'unsupported_parameter');
}
