import { fileURLToPath } from 'node:url';
import type { MockUpstream } from '@switchyard/providers/test-utils';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ExampleProcess, startExample } from './example-process.js';
import { startOpenAIMock } from './openai-mock.js';

const exampleDir = fileURLToPath(new URL('..', import.meta.url));

describe('examples/minimal', () => {
  let upstream: MockUpstream;
  let example: ExampleProcess;
  let client: OpenAI;

  beforeAll(async () => {
    upstream = await startOpenAIMock();
    example = await startExample({
      // How `pnpm start` runs it: TypeScript sources of the workspace packages, no build needed.
      args: ['--conditions=@switchyard/source', '--import', 'tsx', 'src/main.ts'],
      cwd: exampleDir,
      env: { OPENAI_API_KEY: 'sk-test-minimal', OPENAI_BASE_URL: `${upstream.url}/v1`, PORT: '0', LOG_LEVEL: 'warn' },
    });
    client = new OpenAI({ baseURL: `${example.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });

  afterAll(async () => {
    await example?.stop();
    await upstream?.close();
  });

  it('answers a chat completion through the OpenAI upstream', async () => {
    const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello there' }] });
    expect(completion.choices[0]!.message.content).toBe('You said: hello there');
    expect(completion.usage).toMatchObject({ prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 });
    const sent = upstream.requests.at(-1)!;
    expect(sent.headers.authorization).toBe('Bearer sk-test-minimal');
    expect(sent.json).toMatchObject({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello there' }] });
  });

  it('streams a chat completion chunk by chunk', async () => {
    const stream = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'stream me' }], stream: true });
    const pieces: string[] = [];
    let sawUsage = false;
    for await (const chunk of stream) {
      pieces.push(chunk.choices[0]?.delta.content ?? '');
      if (chunk.usage) sawUsage = true;
    }
    expect(pieces.join('')).toBe('You said: stream me');
    expect(pieces.filter((piece) => piece !== '').length).toBeGreaterThan(1);
    // The client did not ask for usage: the gateway requested it upstream and keeps it from the client.
    expect(sawUsage).toBe(false);
    expect(upstream.requests.at(-1)!.json).toMatchObject({ model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true } });
  });

  it('answers an unknown model with an OpenAI-shaped 404', async () => {
    await expect(client.chat.completions.create({ model: 'nobody/model', messages: [{ role: 'user', content: 'hi' }] })).rejects.toMatchObject({
      status: 404,
      code: 'model_not_found',
    });
  });

  it('drains and exits cleanly on SIGTERM', async () => {
    expect(await example.stop()).toBe(0);
  });
});
