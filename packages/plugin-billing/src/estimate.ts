import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { ChatCompletion, ChatCompletionRequest, ChatMessage, EmbeddingRequest } from '@switchyard/core';

/**
 * Tokens assumed for a non-text part (image, audio, file) at admission. Providers charge from about 85
 * (a small OpenAI image) to a few thousand tokens for one; reserving generously keeps budgets exact.
 */
export const nonTextPartTokens = 3_000;

/** Per-message framing tokens (role, separators), as OpenAI's counting guide gives them. */
const perMessageTokens = 4;

function utf8Length(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/**
 * An upper bound on a request's input tokens, cheap enough for every request: byte-level BPE and
 * SentencePiece tokenizers never make a token of less than one byte, so UTF-8 bytes bound the count for
 * every provider's tokenizer. A real tokenizer would be closer but is not a bound for other providers'
 * models, and budgets must never overshoot.
 */
export function promptTokensUpperBound(body: ChatCompletionRequest | EmbeddingRequest): number {
  if ('messages' in body && Array.isArray(body.messages)) {
    let tokens = 3;
    for (const message of body.messages) tokens += perMessageTokens + messageBytes(message);
    if (body.tools) tokens += utf8Length(JSON.stringify(body.tools));
    if (body.response_format) tokens += utf8Length(JSON.stringify(body.response_format));
    return tokens;
  }
  const input = (body as EmbeddingRequest).input;
  if (typeof input === 'string') return utf8Length(input);
  let tokens = 0;
  for (const item of input as unknown[]) {
    if (typeof item === 'string') tokens += utf8Length(item);
    else if (Array.isArray(item)) tokens += item.length;
    else tokens += 1;
  }
  return tokens;
}

function messageBytes(message: ChatMessage): number {
  let bytes = 0;
  const content = message.content;
  if (typeof content === 'string') bytes += utf8Length(content);
  else if (Array.isArray(content)) {
    for (const part of content) bytes += 'text' in part && typeof part.text === 'string' ? utf8Length(part.text) : 'refusal' in part && typeof part.refusal === 'string' ? utf8Length(part.refusal) : nonTextPartTokens;
  }
  if (message.role === 'assistant' && message.tool_calls) bytes += utf8Length(JSON.stringify(message.tool_calls));
  if ('name' in message && typeof message.name === 'string') bytes += utf8Length(message.name);
  return bytes;
}

/** The output tokens a request may produce at most: its own limit, else the model's, else the default. */
export function maxOutputTokens(body: ChatCompletionRequest, modelMaximum: number | undefined, fallback: number): number {
  const requested = body.max_completion_tokens ?? body.max_tokens;
  const perChoice = typeof requested === 'number' && requested > 0 ? (modelMaximum !== undefined ? Math.min(requested, modelMaximum) : requested) : (modelMaximum ?? fallback);
  const choices = typeof body.n === 'number' && body.n > 1 ? body.n : 1;
  return perChoice * choices;
}

/** The texts whose tokens make up a request's input, for counting when the provider reported none. */
export function promptTexts(body: ChatCompletionRequest | EmbeddingRequest): { texts: string[]; extraTokens: number } {
  if ('messages' in body && Array.isArray(body.messages)) {
    const texts: string[] = [];
    let extraTokens = 3;
    for (const message of body.messages) {
      extraTokens += perMessageTokens;
      const content = message.content;
      if (typeof content === 'string') texts.push(content);
      else if (Array.isArray(content)) {
        for (const part of content) {
          if ('text' in part && typeof part.text === 'string') texts.push(part.text);
          else extraTokens += nonTextPartTokens;
        }
      }
      if (message.role === 'assistant' && message.tool_calls) texts.push(JSON.stringify(message.tool_calls));
    }
    if (body.tools) texts.push(JSON.stringify(body.tools));
    return { texts, extraTokens };
  }
  const input = (body as EmbeddingRequest).input;
  if (typeof input === 'string') return { texts: [input], extraTokens: 0 };
  const texts: string[] = [];
  let extraTokens = 0;
  for (const item of input as unknown[]) {
    if (typeof item === 'string') texts.push(item);
    else if (Array.isArray(item)) extraTokens += item.length;
  }
  return { texts, extraTokens };
}

/** The texts of an answer (content, reasoning, refusals, tool calls), for counting its tokens. */
export function completionTexts(response: ChatCompletion | undefined): { texts: string[]; reasoningTexts: string[] } {
  const texts: string[] = [];
  const reasoningTexts: string[] = [];
  for (const choice of response?.choices ?? []) {
    const message = choice.message as ChatCompletion['choices'][number]['message'] & { reasoning_content?: unknown };
    if (typeof message.content === 'string') texts.push(message.content);
    if (typeof message.refusal === 'string') texts.push(message.refusal);
    if (typeof message.reasoning_content === 'string') reasoningTexts.push(message.reasoning_content);
    for (const call of message.tool_calls ?? []) texts.push(call.function.name, call.function.arguments);
  }
  return { texts, reasoningTexts };
}

/** Counts tokens of many texts at once. */
export interface TokenCounter {
  count(texts: readonly string[]): Promise<number[]>;
  close(): Promise<void>;
}

const require = createRequire(import.meta.url);

/**
 * Counts with gpt-tokenizer's o200k encoding (GPT-4o and later) in a worker thread: tokenizing a long
 * answer takes milliseconds of CPU, which on the main thread would stall every other stream. Used only
 * when a provider reported no usage (a stream cut off before its usage chunk, a provider that sends
 * none), so the figure is an estimate and is marked as one in the ledger.
 */
export class WorkerTokenCounter implements TokenCounter {
  #worker: Worker | undefined;
  #failed = false;
  #nextId = 0;
  readonly #pending = new Map<number, { resolve: (counts: number[]) => void; reject: (error: Error) => void }>();
  #inThread: ((text: string) => number) | undefined;

  #start(): Worker | undefined {
    if (this.#worker || this.#failed) return this.#worker;
    try {
      const encodingPath = require.resolve('gpt-tokenizer/encoding/o200k_base');
      // An inline CommonJS worker: it needs no file of its own, so it runs the same from sources and builds.
      const source = `
        const { parentPort, workerData } = require('node:worker_threads');
        const { countTokens } = require(workerData.encodingPath);
        parentPort.on('message', (message) => {
          try {
            parentPort.postMessage({ id: message.id, counts: message.texts.map((text) => countTokens(text)) });
          } catch (error) {
            parentPort.postMessage({ id: message.id, error: String(error) });
          }
        });`;
      const worker = new Worker(source, { eval: true, workerData: { encodingPath } });
      // An idle counter must not keep the process alive.
      worker.unref();
      worker.on('message', (message: { id: number; counts?: number[]; error?: string }) => {
        const pending = this.#pending.get(message.id);
        if (!pending) return;
        this.#pending.delete(message.id);
        if (message.counts) pending.resolve(message.counts);
        else pending.reject(new Error(message.error ?? 'token counting failed'));
      });
      worker.on('error', (error) => this.#fail(error));
      worker.on('exit', () => this.#fail(new Error('the token counting worker stopped')));
      this.#worker = worker;
      return worker;
    } catch {
      this.#failed = true;
      return undefined;
    }
  }

  #fail(error: Error): void {
    this.#worker = undefined;
    this.#failed = true;
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }

  async #countInThread(texts: readonly string[]): Promise<number[]> {
    if (!this.#inThread) {
      const module = (await import('gpt-tokenizer/encoding/o200k_base')) as { countTokens: (text: string) => number };
      this.#inThread = module.countTokens;
    }
    return texts.map((text) => this.#inThread!(text));
  }

  async count(texts: readonly string[]): Promise<number[]> {
    if (texts.length === 0) return [];
    const worker = this.#start();
    if (!worker) return this.#countInThread(texts);
    const id = this.#nextId++;
    try {
      return await new Promise<number[]>((resolve, reject) => {
        this.#pending.set(id, { resolve, reject });
        worker.postMessage({ id, texts });
      });
    } catch {
      // A broken worker must not cost the ledger its row: count here instead.
      return this.#countInThread(texts);
    }
  }

  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    this.#failed = true;
    if (worker) await worker.terminate();
  }
}
