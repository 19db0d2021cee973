import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { GatewayError, type PluginSetupApi } from '@switchyard/core';
import { z } from 'zod';
import type { KeyService } from './key-service.js';
import { constantTimeEqual, credentialFrom } from './keys.js';
import type { LedgerWriter } from './ledger-writer.js';
import { budgetPeriods } from './periods.js';
import { formatUsd } from './prices.js';
import type { BillingStore, KeyWithBalance, UsageGroupBy, UsageReportRow, VirtualKey } from './store/billing-store.js';

/** The part of Koa's context the admin routes use; typed here so the package needs no Koa types. */
interface HttpContext {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  req: IncomingMessage;
  params: Record<string, string>;
  query: Record<string, string | string[] | undefined>;
  status: number;
  body: unknown;
  type: string;
  set(name: string, value: string): void;
}

type Handler = (ctx: HttpContext) => Promise<void>;

export interface AdminApiDependencies {
  store: BillingStore;
  keys: KeyService;
  ledger: LedgerWriter;
  masterKey: string | undefined;
  now: () => number;
}

const maxAdminBodyBytes = 64 * 1024;

/** Reads a small JSON object body; malformed input is a 400 that says what is wrong. */
async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > maxAdminBodyBytes) throw new GatewayError({ message: `The request body exceeds ${maxAdminBodyBytes} bytes.`, status: 413, type: 'invalid_request_error', code: 'body_too_large' });
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw GatewayError.invalidRequest('The request body is not valid JSON.', null, 'invalid_json');
  }
}

/** Turns the first validation issue into a 400 that names the field, as OpenAI's errors do. */
function parseWith<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  let path = issue.path.map((part) => (typeof part === 'number' ? `[${part}]` : `.${String(part)}`)).join('').replace(/^\./, '');
  if (issue.code === 'unrecognized_keys') path = [path, issue.keys[0]].filter(Boolean).join('.');
  const message = issue.code === 'unrecognized_keys' ? `Unknown field '${path}'.` : `Invalid '${path || 'body'}': ${issue.message}`;
  throw GatewayError.invalidRequest(message, path || null, 'invalid_value');
}

const limit = z.number().int().positive().max(1_000_000_000).nullable();
const money = z.number().finite().nonnegative().max(1_000_000_000);
const timestamp = z.iso.datetime({ offset: true });
const metadata = z.record(z.string().max(200), z.unknown()).refine((value) => JSON.stringify(value).length <= 16_384, 'metadata must be at most 16 KiB of JSON');
const models = z.array(z.string().trim().min(1).max(300)).max(1_000).nullable();

const createKeySchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  models: models.optional(),
  max_budget_usd: money.nullable().optional(),
  budget_period: z.enum(budgetPeriods).optional(),
  rpm: limit.optional(),
  tpm: limit.optional(),
  max_concurrency: limit.optional(),
  expires_at: timestamp.nullable().optional(),
  metadata: metadata.optional(),
});

/** Every field of a new key, each optional: a PATCH changes what it names. */
const updateKeySchema = createKeySchema.partial();

const creditsSchema = z.strictObject({
  amount_usd: z
    .number()
    .finite()
    .refine((value) => value !== 0, 'must not be zero')
    .refine((value) => Math.abs(value) <= 1_000_000_000, 'must be at most 1,000,000,000 in size'),
});

const dayPattern = /^\d{4}-\d{2}-\d{2}$/;
const timeParameter = z
  .string()
  .refine((value) => (dayPattern.test(value) ? !Number.isNaN(Date.parse(`${value}T00:00:00Z`)) : timestamp.safeParse(value).success), 'must be a date (YYYY-MM-DD) or an ISO 8601 time with an offset')
  .transform((value) => new Date(dayPattern.test(value) ? `${value}T00:00:00Z` : value).toISOString());

const usageQuerySchema = z.strictObject({
  key_id: z.string().min(1).max(100).optional(),
  from: timeParameter.optional(),
  to: timeParameter.optional(),
  group_by: z.enum(['key', 'model', 'day']).optional(),
});

const requestsQuerySchema = z.strictObject({
  key_id: z.string().min(1).max(100).optional(),
  from: timeParameter.optional(),
  to: timeParameter.optional(),
  limit: z.coerce.number().int().min(1).max(1_000).optional(),
  before: z.string().min(1).max(100).optional(),
});

/** Query strings: a repeated parameter is an error rather than silently the first or the last. */
function singleValues(query: HttpContext['query']): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(query)) {
    if (Array.isArray(value)) throw GatewayError.invalidRequest(`The query parameter '${name}' is given more than once.`, name, 'invalid_value');
    if (value !== undefined) values[name] = value;
  }
  return values;
}

function keyNotFound(id: string): GatewayError {
  return new GatewayError({ message: `No API key with id '${id}'.`, status: 404, type: 'invalid_request_error', code: 'key_not_found', param: 'id' });
}

function keyResponse(key: KeyWithBalance, secret?: string): Record<string, unknown> {
  return { object: 'api_key', ...key, ...(secret === undefined ? {} : { key: secret }) };
}

function send(ctx: HttpContext, status: number, body: unknown): void {
  ctx.status = status;
  ctx.type = 'application/json';
  ctx.body = JSON.stringify(body);
}

function totalsOf(rows: readonly UsageReportRow[]) {
  const totals = { requests: 0, errors: 0, prompt_tokens: 0, cached_tokens: 0, cache_write_tokens: 0, completion_tokens: 0, reasoning_tokens: 0, total_tokens: 0, cost_usd: 0 };
  for (const row of rows) {
    for (const field of Object.keys(totals) as Array<keyof typeof totals>) totals[field] += row[field];
  }
  totals.cost_usd = Number(formatUsd(totals.cost_usd));
  return totals;
}

/**
 * The admin API (master key) and `GET /v1/usage` (a key's own usage). Reports flush this gateway's
 * pending ledger rows first, so a request just answered is in the figures.
 */
export function registerAdminRoutes(router: PluginSetupApi['router'], dependencies: AdminApiDependencies): void {
  const { store, keys, ledger, masterKey, now } = dependencies;

  const admin = (handler: Handler) => async (ctx: HttpContext) => {
    if (masterKey !== undefined) {
      const credential = credentialFrom(ctx.headers);
      if (credential === undefined || !constantTimeEqual(credential, masterKey)) {
        throw GatewayError.authentication('The admin API needs the master key, as "Authorization: Bearer <master key>".', 'invalid_master_key');
      }
    }
    await handler(ctx);
  };

  const flushQuietly = async () => {
    // Figures from the database are still right without the latest rows; a report should not fail for them.
    await ledger.flush().catch(() => undefined);
  };

  const route = (method: 'get' | 'post' | 'patch' | 'delete', path: string, handler: (ctx: HttpContext) => Promise<void>) => {
    (router[method] as unknown as (path: string, middleware: (ctx: never) => Promise<void>) => unknown).call(router, path, handler as (ctx: never) => Promise<void>);
  };

  route('post', '/admin/keys', admin(async (ctx) => {
    const input = parseWith(createKeySchema, await readJson(ctx.req));
    const { key, secret } = await keys.create({
      name: input.name,
      models: input.models ?? null,
      maxBudgetUsd: input.max_budget_usd ?? null,
      budgetPeriod: input.budget_period ?? 'none',
      rpm: input.rpm ?? null,
      tpm: input.tpm ?? null,
      maxConcurrency: input.max_concurrency ?? null,
      expiresAt: input.expires_at ?? null,
      metadata: input.metadata ?? {},
    });
    send(ctx, 201, keyResponse(key, secret));
  }));

  route('get', '/admin/keys', admin(async (ctx) => {
    const query = singleValues(ctx.query);
    const includeRevoked = query.include_revoked === 'true';
    await flushQuietly();
    const list = await store.listKeys(now(), includeRevoked);
    send(ctx, 200, { object: 'list', data: list.map((key) => keyResponse(key)) });
  }));

  route('get', '/admin/keys/:id', admin(async (ctx) => {
    await flushQuietly();
    const key = await store.getKey(ctx.params.id!, now());
    if (!key) throw keyNotFound(ctx.params.id!);
    send(ctx, 200, keyResponse(key));
  }));

  route('patch', '/admin/keys/:id', admin(async (ctx) => {
    const patch = parseWith(updateKeySchema, await readJson(ctx.req));
    const key = await keys.update(ctx.params.id!, patch);
    if (!key) throw keyNotFound(ctx.params.id!);
    send(ctx, 200, keyResponse(key));
  }));

  route('delete', '/admin/keys/:id', admin(async (ctx) => {
    const key = await keys.revoke(ctx.params.id!);
    if (!key) throw keyNotFound(ctx.params.id!);
    send(ctx, 200, { id: key.id, object: 'api_key', deleted: true, revoked_at: key.revoked_at });
  }));

  route('post', '/admin/keys/:id/rotate', admin(async (ctx) => {
    const rotated = await keys.rotate(ctx.params.id!);
    if (!rotated) throw keyNotFound(ctx.params.id!);
    send(ctx, 200, keyResponse(rotated.key, rotated.secret));
  }));

  route('post', '/admin/keys/:id/credits', admin(async (ctx) => {
    const input = parseWith(creditsSchema, await readJson(ctx.req));
    await flushQuietly();
    const result = await keys.addCredits(ctx.params.id!, formatUsd(input.amount_usd));
    if (result.insufficient) throw GatewayError.invalidRequest('Removing that much would take the prepaid balance below zero.', 'amount_usd', 'invalid_value');
    if (!result.key) throw keyNotFound(ctx.params.id!);
    send(ctx, 200, keyResponse(result.key));
  }));

  route('get', '/admin/usage', admin(async (ctx) => {
    const query = parseWith(usageQuerySchema, singleValues(ctx.query));
    await sendReport(ctx, query.key_id, query.from, query.to, query.group_by ?? 'key');
  }));

  route('get', '/admin/requests', admin(async (ctx) => {
    const query = parseWith(requestsQuerySchema, singleValues(ctx.query));
    await flushQuietly();
    const rows = await store.listRequests({ keyId: query.key_id, from: query.from, to: query.to, limit: query.limit ?? 100, before: query.before });
    send(ctx, 200, { object: 'list', data: rows, has_more: rows.length === (query.limit ?? 100) });
  }));

  // A key's own usage: authenticated by the key itself, never showing other keys.
  for (const prefix of ['/v1', '']) {
    route('get', `${prefix}/usage`, async (ctx) => {
      const credential = credentialFrom(ctx.headers);
      if (credential === undefined) throw GatewayError.authentication('You didn\'t provide an API key. Send it as "Authorization: Bearer sk-sy-…".');
      const key: VirtualKey = await keys.authenticate(credential);
      const query = parseWith(usageQuerySchema.omit({ key_id: true }), singleValues(ctx.query));
      await sendReport(ctx, key.id, query.from, query.to, query.group_by ?? 'model', key.id);
    });
  }

  async function sendReport(ctx: HttpContext, keyId: string | undefined, from: string | undefined, to: string | undefined, groupBy: UsageGroupBy, ownKey?: string) {
    if (from !== undefined && to !== undefined && Date.parse(from) >= Date.parse(to)) {
      throw GatewayError.invalidRequest("'from' must be before 'to'.", 'from', 'invalid_value');
    }
    await flushQuietly();
    const report = await store.usageReport({ keyId, from, to, groupBy });
    const body: Record<string, unknown> = {
      object: 'usage_report',
      group_by: groupBy,
      key_id: keyId ?? null,
      from: from ?? null,
      to: to ?? null,
      source: report.source,
      data: report.rows,
      totals: totalsOf(report.rows),
    };
    if (ownKey !== undefined) {
      const key = await store.getKey(ownKey, now());
      if (key) {
        body.budget = {
          max_budget_usd: key.max_budget_usd,
          budget_period: key.budget_period,
          spend_usd: key.spend_usd,
          budget_remaining_usd: key.budget_remaining_usd,
          period_ends_at: key.period_ends_at,
          credits_usd: key.credits_usd,
          credits_available_usd: key.credits_available_usd,
        };
      }
    }
    send(ctx, 200, body);
  }
}
