import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Test helpers: this folder's fixtures, Anthropic's SSE framing, and what a recording carries. */

export const fixturesDir = dirname(fileURLToPath(import.meta.url));

export function readFixture(name: string): string {
  return readFileSync(join(fixturesDir, name), 'utf8');
}

/** The lines of a `.chunks.txt`: one event payload (JSON) per line. */
export function chunkLines(text: string): string[] {
  return text.split('\n').filter((line) => line.trim() !== '');
}

/** Frames payload lines as Anthropic sends them: `event: <type>` then `data: <json>`, no `[DONE]`. */
export function frameAnthropicEvents(lines: readonly string[]): string[] {
  return lines.map((line) => `event: ${(JSON.parse(line) as { type: string }).type}\ndata: ${line}\n\n`);
}

/**
 * Splits a recording into the responses it holds: some recordings are several streams one after the
 * other, each closed by `message_stop`. A stream cut before its `message_stop` stays one part.
 */
export function splitResponses(lines: readonly string[]): string[][] {
  const responses: string[][] = [];
  let current: string[] = [];
  for (const line of lines) {
    current.push(line);
    if ((JSON.parse(line) as { type: string }).type === 'message_stop') {
      responses.push(current);
      current = [];
    }
  }
  if (current.length > 0) responses.push(current);
  return responses;
}

export interface RecordedAnswer {
  text: string;
  reasoning: string;
  /** Client tool calls in order, with the arguments the recording carries. */
  toolCalls: Array<{ id: string; name: string; arguments: string }>;
  stopReason: string | null;
  usage: Record<string, unknown>;
}

type Block = { type: string; id?: string; name?: string; input?: unknown; text?: string; thinking?: string };

/**
 * What an Anthropic stream recording says the answer is, read straight from its events (written apart
 * from the adapter so the two can disagree): text of text blocks, thinking text, client `tool_use` calls
 * with their concatenated `partial_json` (or their start input when nothing was streamed), the last
 * stop reason and the usage with later counts winning.
 */
export function recordedStreamAnswer(lines: readonly string[]): RecordedAnswer {
  const answer: RecordedAnswer = { text: '', reasoning: '', toolCalls: [], stopReason: null, usage: {} };
  const blockTypes = new Map<number, string>();
  const toolCallsByBlock = new Map<number, { call: RecordedAnswer['toolCalls'][number]; input: unknown; fragments: string }>();
  const addBlock = (block: Block) => {
    if (block.type === 'text') answer.text += block.text ?? '';
    if (block.type === 'thinking') answer.reasoning += block.thinking ?? '';
    if (block.type === 'tool_use') answer.toolCalls.push({ id: block.id ?? '', name: block.name ?? '', arguments: JSON.stringify(block.input ?? {}) });
  };
  for (const line of lines) {
    const event = JSON.parse(line) as Record<string, any>;
    switch (event.type) {
      case 'message_start':
        Object.assign(answer.usage, event.message.usage ?? {});
        if (event.message.stop_reason) answer.stopReason = event.message.stop_reason;
        for (const block of event.message.content ?? []) addBlock(block);
        break;
      case 'content_block_start': {
        const block = event.content_block as Block;
        blockTypes.set(event.index, block.type);
        if (block.type === 'tool_use') {
          const call = { id: block.id ?? '', name: block.name ?? '', arguments: '' };
          answer.toolCalls.push(call);
          toolCallsByBlock.set(event.index, { call, input: block.input, fragments: '' });
        } else if (block.type === 'text' || block.type === 'thinking') {
          addBlock(block);
        }
        break;
      }
      case 'content_block_delta':
        if (event.delta.type === 'text_delta' && blockTypes.get(event.index) === 'text') answer.text += event.delta.text;
        if (event.delta.type === 'thinking_delta') answer.reasoning += event.delta.thinking;
        if (event.delta.type === 'input_json_delta' && toolCallsByBlock.has(event.index)) toolCallsByBlock.get(event.index)!.fragments += event.delta.partial_json;
        break;
      case 'message_delta':
        if (event.delta.stop_reason) answer.stopReason = event.delta.stop_reason;
        for (const [key, value] of Object.entries(event.usage ?? {})) if (value !== null) answer.usage[key] = value;
        break;
      default:
        break;
    }
  }
  for (const { call, input, fragments } of toolCallsByBlock.values()) {
    call.arguments = fragments !== '' ? fragments : JSON.stringify(input ?? {});
  }
  return answer;
}

/** The same for a non-streamed message body. */
export function recordedMessageAnswer(message: { content: Block[]; stop_reason?: string | null; usage?: Record<string, unknown> }): RecordedAnswer {
  const answer: RecordedAnswer = { text: '', reasoning: '', toolCalls: [], stopReason: message.stop_reason ?? null, usage: message.usage ?? {} };
  for (const block of message.content) {
    if (block.type === 'text') answer.text += block.text ?? '';
    if (block.type === 'thinking') answer.reasoning += block.thinking ?? '';
    if (block.type === 'tool_use') answer.toolCalls.push({ id: block.id ?? '', name: block.name ?? '', arguments: JSON.stringify(block.input ?? {}) });
  }
  return answer;
}

/** OpenAI's finish reason for a stop reason, as the issue defines the mapping. */
export const expectedFinishReason: Record<string, string> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
  pause_turn: 'stop',
};

/** OpenAI usage for recorded Anthropic usage: cache reads and writes count as prompt tokens. */
export function expectedUsage(usage: Record<string, unknown>): { prompt_tokens: number; completion_tokens: number; total_tokens: number; cached_tokens: number } {
  const count = (key: string) => (typeof usage[key] === 'number' ? (usage[key] as number) : 0);
  const prompt = count('input_tokens') + count('cache_read_input_tokens') + count('cache_creation_input_tokens');
  const completion = count('output_tokens');
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, cached_tokens: count('cache_read_input_tokens') };
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}
