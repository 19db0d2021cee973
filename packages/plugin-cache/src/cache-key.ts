import { hash as digest } from 'node:crypto';
import type { ChatCompletionRequest, ChatMessage } from '@switchyard/core';

/**
 * Request fields that do not change the answer: how it is delivered (`stream`), who asked (`user`,
 * `metadata`), and the gateway's own routing fields. Everything else — known or unknown — is part of the key,
 * so a parameter the gateway has never heard of can never make two different requests share an answer.
 */
const ignoredFields = new Set(['stream', 'stream_options', 'user', 'metadata', 'models', 'service_tier', 'store']);

/**
 * JSON with object keys sorted, so equal requests hash equally whatever order their fields came in
 * (integer-like keys, as in `logit_bias`, first and in numeric order: JavaScript objects keep them so).
 */
export function stableStringify(value: unknown): string {
  // One native JSON.stringify of a copy with sorted keys: a fifth cheaper than building the text in
  // JavaScript, which called JSON.stringify once per key and per string (each call has a setup cost
  // larger than a short string's escaping) and left a tree of concatenated pieces for the hash to flatten.
  return JSON.stringify(sortedCopy(value)) ?? 'null';
}

/** The value with every object's keys in sorted order; primitives as they are. */
function sortedCopy(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const copy = new Array<unknown>(value.length);
    for (let index = 0; index < value.length; index++) copy[index] = sortedCopy(value[index]);
    return copy;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length > 1) sortInPlace(keys);
  const copy: Record<string, unknown> = {};
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index]!;
    // A parsed body may have an own `__proto__` field; assigning it would set the copy's prototype
    // instead, and two requests differing only there would share a key.
    if (key === '__proto__') Object.defineProperty(copy, key, { value: sortedCopy(record[key]), enumerable: true, writable: true, configurable: true });
    else copy[key] = sortedCopy(record[key]);
  }
  return copy;
}

/**
 * Insertion sort, in UTF-16 code-unit order as `Array.prototype.sort` sorts strings: a request's objects
 * have a handful of keys, and V8's sort copies them into a work array first (a few hundred bytes of
 * garbage per cache key, and a fifth of the key's time).
 */
function sortInPlace(keys: string[]): void {
  for (let index = 1; index < keys.length; index++) {
    const key = keys[index]!;
    let position = index - 1;
    while (position >= 0 && keys[position]! > key) {
      keys[position + 1] = keys[position]!;
      position--;
    }
    keys[position + 1] = key;
  }
}

function hash(text: string): string {
  // One-shot digest rather than a Hash object: half the cost for a request body.
  return digest('sha256', text, 'base64url');
}

function normalized(request: ChatCompletionRequest, resolvedModel: string, messages: readonly ChatMessage[]): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const key of Object.keys(request)) if (!ignoredFields.has(key)) result[key] = request[key];
  result.model = resolvedModel;
  result.messages = messages;
  return result;
}

/** The exact-cache key: tenant + resolved model + every output-changing field. */
export function exactCacheKey(scope: string, request: ChatCompletionRequest, resolvedModel: string): string {
  return hash(`${scope}\n${stableStringify(normalized(request, resolvedModel, request.messages))}`);
}

/** The text of the request's final turn when it is a user message with text; the semantic cache embeds it. */
export function finalUserText(request: ChatCompletionRequest): string | undefined {
  const last = request.messages[request.messages.length - 1];
  if (!last || last.role !== 'user') return undefined;
  const content = last.content;
  const text = typeof content === 'string' ? content : content.map((part) => (part.type === 'text' ? part.text : '')).join('\n');
  // A turn with images or files is not described by its text alone.
  if (typeof content !== 'string' && content.some((part) => part.type !== 'text')) return undefined;
  return text.trim() === '' ? undefined : text;
}

/**
 * The semantic partition: everything but the final user turn must match exactly (tenant, model, system
 * prompt, earlier turns, tools, parameters); only the final turn is compared by meaning.
 */
export function semanticPartition(scope: string, request: ChatCompletionRequest, resolvedModel: string): string {
  return hash(`${scope}\n${stableStringify(normalized(request, resolvedModel, request.messages.slice(0, -1)))}`);
}
