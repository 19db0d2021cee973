import { Writable } from 'node:stream';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createGateway, definePlugin, GatewayError } from '@switchyard/core';
import { createEchoProvider } from '@switchyard/providers';
import OpenAI from 'openai';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createObservabilityPlugin, type ObservabilityOptions } from './observability-plugin.js';

let cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

async function start(options: ObservabilityOptions = {}) {
  const lines: Array<Record<string, unknown>> = [];
  const raw: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) {
        raw.push(line);
        lines.push(JSON.parse(line));
      }
      done();
    },
  });
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const refuseSecret = definePlugin({
    name: 'refuse-secret',
    onRequest(context) {
      if (context.headers['x-refuse'] === 'yes') throw GatewayError.rateLimited('slow down', 1_000);
    },
  });
  const plugin = createObservabilityPlugin({ tracer: tracerProvider.getTracer('test'), ...options });
  const gateway = createGateway({ providers: [createEchoProvider()], plugins: [refuseSecret, plugin], logger: pino({ level: 'info' }, sink) });
  const { url } = await gateway.listen(0);
  cleanup.push(() => gateway.close());
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'sk-secret-value-123', maxRetries: 0 });
  return { client, url, lines, raw, exporter, plugin };
}

const ask = { model: 'demo/echo', messages: [{ role: 'user' as const, content: 'my private prompt text' }] };

describe('observability plugin', () => {
  it('logs one structured line per request, with no secret and no prompt', async () => {
    const { client, lines, raw } = await start();
    await client.chat.completions.create(ask, { headers: { 'x-request-id': 'req-123' } });
    const stream = await client.chat.completions.create({ ...ask, stream: true });
    for await (const _chunk of stream) {
      // drain
    }
    const requestLines = lines.filter((line) => line.msg === 'request');
    expect(requestLines).toHaveLength(2);
    expect(requestLines[0]).toMatchObject({ requestId: 'req-123', operation: 'chat', modelRequested: 'demo/echo', modelServed: 'demo/echo', provider: 'demo', status: 200, attempts: 1, promptTokens: expect.any(Number), completionTokens: expect.any(Number) });
    expect(requestLines[1]).toMatchObject({ streamed: true, ttftMs: expect.any(Number) });
    const everything = raw.join('\n');
    expect(everything).not.toContain('sk-secret-value-123');
    expect(everything).not.toContain('my private prompt text');
    expect(everything).not.toMatch(/authorization/i);
  });

  it('logs prompts only when told to', async () => {
    const { client, raw } = await start({ logContent: true });
    await client.chat.completions.create(ask);
    expect(raw.join('\n')).toContain('my private prompt text');
  });

  it('serves Prometheus metrics and returns in-flight to zero', async () => {
    const { client, url } = await start();
    await client.chat.completions.create(ask);
    await expect(client.chat.completions.create(ask, { headers: { 'x-refuse': 'yes' } })).rejects.toBeInstanceOf(OpenAI.RateLimitError);
    await expect(client.chat.completions.create({ ...ask, model: 'nowhere/model' })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toMatch(/switchyard_requests_total\{operation="chat",model="demo\/echo",provider="demo",status="200",cache="none"\} 1/);
    expect(text).toMatch(/switchyard_errors_total\{type="rate_limit_error",status="429"\} 1/);
    expect(text).toMatch(/switchyard_rate_limit_rejections_total\{code="rate_limit_exceeded"\} 1/);
    expect(text).toMatch(/switchyard_tokens_total\{kind="prompt",model="demo\/echo",provider="demo"\} \d+/);
    expect(text).toMatch(/switchyard_in_flight_requests 0/);
    expect(text).toMatch(/switchyard_upstream_duration_seconds_count\{provider="demo",outcome="ok"\} 1/);
  });

  it('bounds label cardinality', async () => {
    const { client, url } = await start({ maxLabelValues: 1 });
    await client.chat.completions.create(ask);
    await client.chat.completions.create({ ...ask, model: 'demo/other-model' });
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toMatch(/model="other"/);
  });

  it('exports breaker states', async () => {
    const { url } = await start({ breakers: () => [['openai/gpt-4o', 'open']] });
    expect(await (await fetch(`${url}/metrics`)).text()).toMatch(/switchyard_circuit_breaker_state\{target="openai\/gpt-4o"\} 2/);
  });

  it('creates a span per request and one per upstream attempt, parented', async () => {
    const { client, exporter } = await start();
    await client.chat.completions.create(ask);
    const spans = exporter.getFinishedSpans();
    const request = spans.find((span) => span.name === 'switchyard.request')!;
    const upstream = spans.find((span) => span.name === 'switchyard.upstream')!;
    expect(request).toBeDefined();
    expect(upstream.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(request.attributes['gen_ai.response.model']).toBe('demo/echo');
  });
});
