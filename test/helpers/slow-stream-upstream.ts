/**
 * A slow OpenAI-compatible upstream in a process of its own (start it with `startSlowStreamUpstream`).
 *
 * Streams are sent one content chunk every `chunkIntervalMs`, so a client can leave while the "model" is
 * still generating. The moment each streamed request's connection closes is recorded on this process's
 * own event loop, where nothing else runs: in the test's process the timestamp would also count however
 * long the gateway kept that loop busy. Times are `performance.timeOrigin + performance.now()`, comparable
 * across processes on one machine.
 *
 *   POST /v1/chat/completions   stream: slow chunks, keyed by the last message's text; otherwise a quick JSON answer
 *   GET  /closed                { [last message text]: { closedAt, finished } } for every streamed request so far
 */
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { sendJson, startMockUpstream } from '@switchyard/providers/test-utils';
import { spawnTarget, type TargetProcess } from '../../bench/lib/processes.js';
import { readTargetOptions, serveTarget, targetOptionsVariable } from '../../bench/lib/target-process.js';

export interface SlowStreamUpstreamOptions {
  /** Wait between two content chunks. */
  chunkIntervalMs: number;
  /** Content chunks of a complete answer (`word0 `, `word1 `, …), which bounds how long a stream can run. */
  chunks: number;
}

export interface StreamClose {
  /** When the upstream saw the connection close, in `performance.timeOrigin + performance.now()` milliseconds. */
  closedAt: number;
  /** Whether the whole answer had been sent by then. */
  finished: boolean;
}

export interface SlowStreamUpstream {
  url: string;
  /** Streamed requests whose connection has closed, by their last message's text. */
  closes(): Promise<Record<string, StreamClose>>;
  stop(): Promise<void>;
}

/** Now, on the clock `closedAt` is read on. */
export const wallClock = (): number => performance.timeOrigin + performance.now();

const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-slow', object: 'chat.completion.chunk', created: 1, model: 'slow-model', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;

export async function startSlowStreamUpstream(options: SlowStreamUpstreamOptions): Promise<SlowStreamUpstream> {
  const target: TargetProcess = await spawnTarget({ name: 'slow upstream', module: new URL(import.meta.url), options });
  return {
    url: target.url,
    async closes() {
      const response = await fetch(`${target.url}/closed`);
      return (await response.json()) as Record<string, StreamClose>;
    },
    stop: () => target.stop(),
  };
}

async function serve(options: SlowStreamUpstreamOptions) {
  const closes: Record<string, StreamClose> = {};
  return startMockUpstream(async (recorded, response) => {
    if (recorded.method === 'GET' && recorded.url === '/closed') {
      sendJson(response, 200, closes);
      return;
    }
    const body = recorded.json as { stream?: boolean; messages?: Array<{ content: string }> } | undefined;
    if (body?.stream !== true) {
      sendJson(response, 200, {
        id: 'chatcmpl-quick',
        object: 'chat.completion',
        created: 1,
        model: 'slow-model',
        choices: [{ index: 0, message: { role: 'assistant', content: 'quick answer', refusal: null }, finish_reason: 'stop', logprobs: null }],
        usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 },
      });
      return;
    }
    const marker = String(body.messages?.at(-1)?.content ?? '');
    response.on('close', () => {
      closes[marker] = { closedAt: wallClock(), finished: response.writableFinished };
    });
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    response.write(chunk({ role: 'assistant', content: '' }));
    for (let index = 0; index < options.chunks && !response.destroyed; index++) {
      response.write(chunk({ content: `word${index} ` }));
      await new Promise((resolve) => setTimeout(resolve, options.chunkIntervalMs));
    }
    if (response.destroyed) return;
    response.write(chunk({}, 'stop'));
    response.end('data: [DONE]\n\n');
  });
}

if (process.env[targetOptionsVariable] !== undefined && process.argv[1] === fileURLToPath(import.meta.url)) {
  await serveTarget(() => serve(readTargetOptions<SlowStreamUpstreamOptions>()));
}
