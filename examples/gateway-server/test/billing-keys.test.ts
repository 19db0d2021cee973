import type { MockUpstream } from '@switchyard/providers/test-utils';
import type { Logger } from '@switchyard/core';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BillingServer, removeDirectory, startBillingServer, startMockProvider } from './billing-helpers.js';

/**
 * Virtual keys through the example server: the admin API with the master key, and requests with the
 * official openai SDK.
 */
describe('billing: virtual key lifecycle', () => {
  let upstream: MockUpstream;
  let billing: BillingServer;

  beforeAll(async () => {
    upstream = await startMockProvider();
    billing = await startBillingServer({ upstream });
  });

  afterAll(async () => {
    await billing?.close();
    await upstream?.close();
    if (billing) removeDirectory(billing.directory);
  });

  const ask = (client: OpenAI, model = 'openai/gpt-4o-mini') => client.chat.completions.create({ model, messages: [{ role: 'user', content: 'What is the capital of France?' }] });

  async function expectStatus(promise: Promise<unknown>, status: number, code: string) {
    const error = await promise.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(OpenAI.APIError);
    const apiError = error as InstanceType<typeof OpenAI.APIError>;
    expect(apiError.status).toBe(status);
    expect(apiError.code).toBe(code);
    return apiError;
  }

  it('creates a key, shows the secret once, and stores only a hash and a prefix', async () => {
    const created = await billing.admin('POST', '/admin/keys', { name: 'project alpha', rpm: 60, tpm: 10_000, max_concurrency: 4, metadata: { team: 'search' } });
    expect(created.status).toBe(201);
    expect(created.body.key).toMatch(/^sk-sy-[\w-]{43}$/);
    expect(created.body).toMatchObject({ object: 'api_key', name: 'project alpha', rpm: 60, tpm: 10_000, max_concurrency: 4, metadata: { team: 'search' }, revoked_at: null });
    expect(created.body.key.startsWith(created.body.key_prefix)).toBe(true);
    expect(created.body.key_prefix.length).toBeLessThan(16);

    const fetched = await billing.admin('GET', `/admin/keys/${created.body.id}`);
    expect(fetched.status).toBe(200);
    expect(fetched.body).not.toHaveProperty('key');
    expect(JSON.stringify(fetched.body)).not.toContain(created.body.key);
    expect(fetched.body).toMatchObject({ id: created.body.id, spend_usd: 0, total_spend_usd: 0, reserved_usd: 0, budget_remaining_usd: null, credits_usd: null });

    const listed = await billing.admin('GET', '/admin/keys');
    expect(listed.body.data.map((key: { id: string }) => key.id)).toContain(created.body.id);
    expect(JSON.stringify(listed.body)).not.toContain(created.body.key);
    // Not even the database holds the secret.
    const rows = await billing.server.billing!.store.client.query('SELECT * FROM switchyard.keys WHERE id = $1', [created.body.id]);
    expect(JSON.stringify(rows)).not.toContain(created.body.key.slice(10));
  });

  it('accepts the key as a Bearer token and in x-api-key, and refuses missing and unknown keys', async () => {
    const created = await billing.admin('POST', '/admin/keys', { name: 'auth' });
    const completion = await ask(billing.client(created.body.key));
    expect(completion.choices[0]!.message.content).toBe('The capital of France is Paris.');

    const viaHeader = await fetch(`${billing.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'x-api-key': created.body.key, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(viaHeader.status).toBe(200);

    const missing = await fetch(`${billing.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ error: { type: 'authentication_error', code: 'invalid_api_key' } });

    await expectStatus(ask(billing.client('sk-sy-' + 'x'.repeat(43))), 401, 'invalid_api_key');
    await expectStatus(ask(billing.client('not-a-switchyard-key')), 401, 'invalid_api_key');
    // Model listing and embeddings are behind the same check.
    await expectStatus(billing.client('sk-sy-' + 'y'.repeat(43)).models.list(), 401, 'invalid_api_key');
    await expectStatus(billing.client('sk-sy-' + 'y'.repeat(43)).embeddings.create({ model: 'openai/text-embedding-3-small', input: 'hi' }), 401, 'invalid_api_key');
    const models = await billing.client(created.body.key).models.list();
    expect(models.data.length).toBeGreaterThan(0);
    const embedding = await billing.client(created.body.key).embeddings.create({ model: 'openai/text-embedding-3-small', input: 'hi' });
    expect(embedding.data).toHaveLength(1);
  });

  it('limits a key to its models with 403 model_not_allowed, and PATCH changes that at once', async () => {
    const created = await billing.admin('POST', '/admin/keys', { name: 'mini only', models: ['openai/gpt-4o-mini'] });
    const client = billing.client(created.body.key);
    await ask(client, 'openai/gpt-4o-mini');
    const refused = await expectStatus(ask(client, 'openai/gpt-4o'), 403, 'model_not_allowed');
    expect(refused.type).toBe('permission_error');
    expect(refused.param).toBe('model');

    const patched = await billing.admin('PATCH', `/admin/keys/${created.body.id}`, { models: ['openai/*'], name: 'all openai' });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ name: 'all openai', models: ['openai/*'] });
    await ask(client, 'openai/gpt-4o');
  });

  it('revokes a key: its very next request is refused with 401', async () => {
    const created = await billing.admin('POST', '/admin/keys', { name: 'to revoke' });
    const client = billing.client(created.body.key);
    await ask(client);
    const deleted = await billing.admin('DELETE', `/admin/keys/${created.body.id}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({ id: created.body.id, deleted: true });
    const refused = await expectStatus(ask(client), 401, 'invalid_api_key');
    expect(refused.message).toContain('revoked');
    expect((await billing.admin('GET', '/admin/keys')).body.data.map((key: { id: string }) => key.id)).not.toContain(created.body.id);
    expect((await billing.admin('GET', '/admin/keys?include_revoked=true')).body.data.map((key: { id: string }) => key.id)).toContain(created.body.id);
  });

  it('rotates a key: the old secret stops working at once, the new one keeps the id and limits', async () => {
    const created = await billing.admin('POST', '/admin/keys', { name: 'rotating', rpm: 30 });
    const oldClient = billing.client(created.body.key);
    await ask(oldClient);
    const rotated = await billing.admin('POST', `/admin/keys/${created.body.id}/rotate`);
    expect(rotated.status).toBe(200);
    expect(rotated.body).toMatchObject({ id: created.body.id, rpm: 30 });
    expect(rotated.body.key).toMatch(/^sk-sy-/);
    expect(rotated.body.key).not.toBe(created.body.key);
    await expectStatus(ask(oldClient), 401, 'invalid_api_key');
    await ask(billing.client(rotated.body.key));
  });

  it('refuses expired keys', async () => {
    const created = await billing.admin('POST', '/admin/keys', { name: 'expiring', expires_at: new Date(Date.now() + 60_000).toISOString() });
    await ask(billing.client(created.body.key));
    await billing.admin('PATCH', `/admin/keys/${created.body.id}`, { expires_at: new Date(Date.now() - 1_000).toISOString() });
    const refused = await expectStatus(ask(billing.client(created.body.key)), 401, 'invalid_api_key');
    expect(refused.message).toContain('expired');
  });

  it('guards the admin API with the master key and names the invalid field', async () => {
    expect((await billing.admin('GET', '/admin/keys', undefined, '')).status).toBe(401);
    expect((await billing.admin('GET', '/admin/keys', undefined, 'sk-master-wrong')).status).toBe(401);
    const created = await billing.admin('POST', '/admin/keys', { name: 'user key' });
    // A virtual key is not an admin key.
    expect((await billing.admin('GET', '/admin/keys', undefined, created.body.key)).status).toBe(401);

    const invalid = await billing.admin('POST', '/admin/keys', { name: 'x', max_budget_usd: -5 });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error).toMatchObject({ type: 'invalid_request_error', param: 'max_budget_usd' });
    const period = await billing.admin('POST', '/admin/keys', { name: 'x', budget_period: 'yearly' });
    expect(period.body.error.param).toBe('budget_period');
    const unknown = await billing.admin('POST', '/admin/keys', { name: 'x', max_budget: 5 });
    expect(unknown.body.error).toMatchObject({ param: 'max_budget' });
    const noName = await billing.admin('POST', '/admin/keys', {});
    expect(noName.body.error.param).toBe('name');
    const nested = await billing.admin('POST', '/admin/keys', { name: 'x', models: ['ok', ''] });
    expect(nested.body.error.param).toBe('models[1]');
    const credits = await billing.admin('POST', `/admin/keys/${created.body.id}/credits`, { amount_usd: 'ten' });
    expect(credits.body.error.param).toBe('amount_usd');
    const missing = await billing.admin('GET', '/admin/keys/key_doesnotexist');
    expect(missing.status).toBe(404);
    const badJson = await fetch(`${billing.url}/admin/keys`, { method: 'POST', headers: { authorization: `Bearer ${billing.masterKey}` }, body: '{"name":' });
    expect(badJson.status).toBe(400);
  });
});

describe('billing: development mode', () => {
  it('serves requests without a key and says so at startup when no master key is set', async () => {
    const upstream = await startMockProvider();
    const lines: string[] = [];
    const capture = (object: object | string, message?: string) => {
      lines.push(typeof object === 'string' ? object : (message ?? ''));
    };
    const logger: Logger = { error: capture, warn: capture, info: capture, debug: capture, child: () => logger };
    const { startServer } = await import('../src/server.js');
    const server = await startServer({ PORT: '0', OPENAI_API_KEY: 'upstream', OPENAI_BASE_URL: `${upstream.url}/v1` }, logger);
    try {
      const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'anything', maxRetries: 0 });
      const completion = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
      expect(completion.choices[0]!.message.content).toBe('The capital of France is Paris.');
      expect(lines.join('')).toContain('dev mode');
    } finally {
      await server.close();
      await upstream.close();
    }
  });
});
