import { type BudgetPeriod, periodEnd } from '../periods.js';
import type { SqlClient, SqlQueryable } from './sql-client.js';

/** A virtual key as other plugins see it on `context.state.virtualKey`: identity, limits, no secret. */
export interface VirtualKey {
  id: string;
  name: string;
  /** The start of the key, for recognising it in listings. */
  key_prefix: string;
  /** Models the key may use (names, `provider/model`, or `provider/*`); null: every model. */
  models: string[] | null;
  max_budget_usd: number | null;
  budget_period: BudgetPeriod;
  /** Requests per minute, tokens per minute, requests in flight: read by the rate-limit plugin. */
  rpm: number | null;
  tpm: number | null;
  max_concurrency: number | null;
  expires_at: string | null;
  metadata: Record<string, unknown>;
  /** Whether the key pays from prepaid credits (it has been granted some). */
  prepaid: boolean;
  created_at: string;
  updated_at: string;
  revoked_at: string | null;
}

/** Where a key's money stands. */
export interface KeyBalance {
  /** Spend in the current budget period (the key's whole life when the period is `none`). */
  spend_usd: number;
  total_spend_usd: number;
  /** Held by requests in flight: their worst-case cost until they settle. */
  reserved_usd: number;
  /** Budget left after settled spend and reservations; null without a budget. */
  budget_remaining_usd: number | null;
  /** Prepaid balance after settled spend; null for keys that are not prepaid. */
  credits_usd: number | null;
  /** Prepaid balance that new requests can still reserve. */
  credits_available_usd: number | null;
  credits_granted_usd: number;
  /** When the current budget period ends and spend starts again from zero. */
  period_ends_at: string | null;
}

export type KeyWithBalance = VirtualKey & KeyBalance;

export interface NewKeyRecord {
  id: string;
  name: string;
  keyHash: string;
  keyPrefix: string;
  models: string[] | null;
  maxBudgetUsd: number | null;
  budgetPeriod: BudgetPeriod;
  rpm: number | null;
  tpm: number | null;
  maxConcurrency: number | null;
  expiresAt: string | null;
  metadata: Record<string, unknown>;
}

export interface KeyPatch {
  name?: string;
  models?: string[] | null;
  max_budget_usd?: number | null;
  budget_period?: BudgetPeriod;
  rpm?: number | null;
  tpm?: number | null;
  max_concurrency?: number | null;
  expires_at?: string | null;
  metadata?: Record<string, unknown>;
}

export type LedgerOutcome = 'success' | 'error' | 'rejected' | 'aborted' | 'cache_hit';

/** One request in the usage ledger. */
export interface LedgerRow {
  /** Unique per request, made by the gateway: a client's `x-request-id` may repeat, this may not. */
  id: string;
  /** The request id the client saw in `x-request-id`. */
  request_id: string;
  key_id: string | null;
  operation: 'chat' | 'embeddings';
  model_requested: string | null;
  model_served: string | null;
  provider: string | null;
  prompt_tokens: number;
  cached_tokens: number;
  cache_write_tokens: number;
  completion_tokens: number;
  reasoning_tokens: number;
  /** The provider reported no usage: the token counts come from a tokenizer. */
  usage_estimated: boolean;
  /** Decimal string, exact to 1e-10 dollars. */
  cost_usd: string;
  latency_ms: number;
  time_to_first_token_ms: number | null;
  status: number;
  outcome: LedgerOutcome;
  error_type: string | null;
  error_code: string | null;
  cache_hit: boolean;
  streamed: boolean;
  attempts: number;
  /** ISO time the request arrived. */
  created_at: string;
}

export type UsageGroupBy = 'key' | 'model' | 'day';

export interface UsageQuery {
  keyId?: string;
  /** ISO times; `to` is exclusive. */
  from?: string;
  to?: string;
  groupBy: UsageGroupBy;
}

export interface UsageReportRow {
  key_id?: string | null;
  model?: string | null;
  day?: string;
  requests: number;
  errors: number;
  prompt_tokens: number;
  cached_tokens: number;
  cache_write_tokens: number;
  completion_tokens: number;
  reasoning_tokens: number;
  total_tokens: number;
  cost_usd: number;
}

export interface UsageReport {
  /** Where the figures came from: the daily roll-up for whole days, the ledger otherwise. */
  source: 'daily_rollup' | 'ledger';
  rows: UsageReportRow[];
}

export interface RequestsQuery {
  keyId?: string;
  from?: string;
  to?: string;
  limit: number;
  /** Rows created before this row id's time (paging). */
  before?: string;
}

const identifierPattern = /^[a-z_][a-z0-9_]{0,62}$/;

const day = 86_400_000;

/** A NUMERIC column read back: drivers return decimal strings so no precision is lost in transit. */
const toNumber = (value: unknown): number => (value === null || value === undefined ? 0 : Number(value));
const toNullableNumber = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));
const toIso = (value: unknown): string | null => (value === null || value === undefined ? null : new Date(value as string | Date).toISOString());

/** The ledger's columns in the order `ledgerRowsJson` writes them, with their types for the cast. */
export const ledgerColumns = [
  ['id', 'text'],
  ['request_id', 'text'],
  ['key_id', 'text'],
  ['operation', 'text'],
  ['model_requested', 'text'],
  ['model_served', 'text'],
  ['provider', 'text'],
  ['prompt_tokens', 'integer'],
  ['cached_tokens', 'integer'],
  ['cache_write_tokens', 'integer'],
  ['completion_tokens', 'integer'],
  ['reasoning_tokens', 'integer'],
  ['usage_estimated', 'boolean'],
  ['cost_usd', 'numeric'],
  ['latency_ms', 'double precision'],
  ['time_to_first_token_ms', 'double precision'],
  ['status', 'integer'],
  ['outcome', 'text'],
  ['error_type', 'text'],
  ['error_code', 'text'],
  ['cache_hit', 'boolean'],
  ['streamed', 'boolean'],
  ['attempts', 'integer'],
  ['created_at', 'timestamptz'],
] as const satisfies ReadonlyArray<readonly [keyof LedgerRow, string]>;

/**
 * A batch of ledger rows as one JSON array of arrays, in `ledgerColumns` order. Without the 24 names
 * repeated in every row the text is half as long: half the serialising for the gateway (a row a request)
 * and half the parsing for PostgreSQL, which usually shares the machine.
 */
export function ledgerRowsJson(rows: readonly LedgerRow[]): string {
  const values = new Array<unknown[]>(rows.length);
  for (let index = 0; index < rows.length; index++) {
    const row = rows[index]!;
    values[index] = [
      row.id, row.request_id, row.key_id, row.operation, row.model_requested, row.model_served, row.provider,
      row.prompt_tokens, row.cached_tokens, row.cache_write_tokens, row.completion_tokens, row.reasoning_tokens,
      row.usage_estimated, row.cost_usd, row.latency_ms, row.time_to_first_token_ms, row.status, row.outcome,
      row.error_type, row.error_code, row.cache_hit, row.streamed, row.attempts, row.created_at,
    ];
  }
  return JSON.stringify(values);
}

/**
 * Keys, reservations and the usage ledger in PostgreSQL (server or embedded). Every change to money is
 * one atomic statement, so two gateways sharing a database can never both spend the same dollar.
 */
export class BillingStore {
  readonly client: SqlClient;
  readonly schema: string;
  readonly #s: string;

  constructor(client: SqlClient, schema = 'switchyard') {
    if (!identifierPattern.test(schema)) throw new Error(`The billing schema name '${schema}' must be a lower-case SQL identifier.`);
    this.client = client;
    this.schema = schema;
    this.#s = `"${schema}"`;
  }

  /** Creates or upgrades the tables; safe to run from several gateways at once. */
  async migrate(): Promise<void> {
    const s = this.#s;
    await this.client.transaction(async (sql) => {
      // Serialises gateways starting together: the second waits and then finds every migration applied.
      await sql.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`switchyard-billing:${this.schema}`]);
      await sql.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
      await sql.query(`CREATE TABLE IF NOT EXISTS ${s}.billing_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
      const applied = new Set((await sql.query<{ version: number }>(`SELECT version FROM ${s}.billing_migrations`)).map((row) => Number(row.version)));
      for (const [index, statements] of migrations(s).entries()) {
        const version = index + 1;
        if (applied.has(version)) continue;
        for (const statement of statements) await sql.query(statement);
        await sql.query(`INSERT INTO ${s}.billing_migrations (version) VALUES ($1)`, [version]);
      }
    });
  }

  /** Removes every billing table (tests that use a schema of their own). */
  async dropSchema(): Promise<void> {
    await this.client.query(`DROP SCHEMA IF EXISTS ${this.#s} CASCADE`);
  }

  // ---- keys -------------------------------------------------------------------------------------

  async createKey(record: NewKeyRecord, now: number): Promise<KeyWithBalance> {
    const rows = await this.client.query(
      `INSERT INTO ${this.#s}.keys (id, name, key_hash, key_prefix, models, max_budget_usd, budget_period, period_ends_at,
         rpm, tpm, max_concurrency, expires_at, metadata, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10, $11, $12, $13::jsonb, $14, $14)
       RETURNING ${this.#keyColumns('$14')}`,
      [
        record.id,
        record.name,
        record.keyHash,
        record.keyPrefix,
        record.models === null ? null : JSON.stringify(record.models),
        record.maxBudgetUsd,
        record.budgetPeriod,
        toIso(periodEnd(record.budgetPeriod, now)),
        record.rpm,
        record.tpm,
        record.maxConcurrency,
        record.expiresAt,
        JSON.stringify(record.metadata),
        new Date(now).toISOString(),
      ],
    );
    return keyFromRow(rows[0]!, now);
  }

  /** The key with this hash, revoked or not (the caller tells revoked from unknown). */
  async findKeyByHash(keyHash: string, now: number): Promise<(KeyWithBalance & { key_hash: string }) | undefined> {
    const rows = await this.client.query(`SELECT ${this.#keyColumns('$2')}, key_hash FROM ${this.#s}.keys k WHERE key_hash = $1`, [keyHash, new Date(now).toISOString()]);
    return rows[0] ? { ...keyFromRow(rows[0], now), key_hash: String(rows[0].key_hash) } : undefined;
  }

  async getKey(id: string, now: number): Promise<KeyWithBalance | undefined> {
    const rows = await this.client.query(`SELECT ${this.#keyColumns('$2')} FROM ${this.#s}.keys k WHERE id = $1`, [id, new Date(now).toISOString()]);
    return rows[0] ? keyFromRow(rows[0], now) : undefined;
  }

  async listKeys(now: number, includeRevoked: boolean): Promise<KeyWithBalance[]> {
    const rows = await this.client.query(
      `SELECT ${this.#keyColumns('$1')} FROM ${this.#s}.keys k ${includeRevoked ? '' : 'WHERE revoked_at IS NULL'} ORDER BY created_at, id`,
      [new Date(now).toISOString()],
    );
    return rows.map((row) => keyFromRow(row, now));
  }

  /** Applies the fields present in `patch`; a changed budget period starts a new period now. */
  async updateKey(id: string, patch: KeyPatch, now: number): Promise<KeyWithBalance | undefined> {
    const assignments: string[] = [];
    const params: unknown[] = [id, new Date(now).toISOString()];
    const set = (column: string, value: unknown, cast = '') => {
      params.push(value);
      assignments.push(`${column} = $${params.length}${cast}`);
    };
    if (patch.name !== undefined) set('name', patch.name);
    if (patch.models !== undefined) set('models', patch.models === null ? null : JSON.stringify(patch.models), '::jsonb');
    if (patch.max_budget_usd !== undefined) set('max_budget_usd', patch.max_budget_usd);
    if (patch.budget_period !== undefined) {
      set('budget_period', patch.budget_period);
      set('period_ends_at', toIso(periodEnd(patch.budget_period, now)), '::timestamptz');
      // The spend so far belongs to the old period; the new one starts empty.
      assignments.push(`period_spend_usd = CASE WHEN budget_period = $${params.length - 1} THEN period_spend_usd ELSE 0 END`);
    }
    if (patch.rpm !== undefined) set('rpm', patch.rpm);
    if (patch.tpm !== undefined) set('tpm', patch.tpm);
    if (patch.max_concurrency !== undefined) set('max_concurrency', patch.max_concurrency);
    if (patch.expires_at !== undefined) set('expires_at', patch.expires_at, '::timestamptz');
    if (patch.metadata !== undefined) set('metadata', JSON.stringify(patch.metadata), '::jsonb');
    assignments.push('updated_at = $2');
    const rows = await this.client.query(
      `UPDATE ${this.#s}.keys k SET ${assignments.join(', ')} WHERE id = $1 AND revoked_at IS NULL RETURNING ${this.#keyColumns('$2')}`,
      params,
    );
    return rows[0] ? keyFromRow(rows[0], now) : undefined;
  }

  async revokeKey(id: string, now: number): Promise<KeyWithBalance | undefined> {
    const rows = await this.client.query(
      `UPDATE ${this.#s}.keys k SET revoked_at = coalesce(revoked_at, $2), updated_at = $2 WHERE id = $1 RETURNING ${this.#keyColumns('$2')}, key_hash`,
      [id, new Date(now).toISOString()],
    );
    return rows[0] ? keyFromRow(rows[0], now) : undefined;
  }

  /** Replaces the secret; returns the old hash so the caller can forget it at once. */
  async rotateKey(id: string, keyHash: string, keyPrefix: string, now: number): Promise<{ key: KeyWithBalance; previousHash: string } | undefined> {
    const rows = await this.client.query(
      `UPDATE ${this.#s}.keys k SET key_hash = $2, key_prefix = $3, updated_at = $4
       FROM (SELECT id AS old_id, key_hash AS previous_hash FROM ${this.#s}.keys WHERE id = $1 FOR UPDATE) previous
       WHERE k.id = previous.old_id AND k.revoked_at IS NULL
       RETURNING ${this.#keyColumns('$4')}, previous.previous_hash`,
      [id, keyHash, keyPrefix, new Date(now).toISOString()],
    );
    return rows[0] ? { key: keyFromRow(rows[0], now), previousHash: String(rows[0].previous_hash) } : undefined;
  }

  /** Adds (or, negative, removes) prepaid credits; refuses to take the balance below zero. */
  async addCredits(id: string, amountUsd: string, now: number): Promise<{ key?: KeyWithBalance; insufficient?: boolean }> {
    const rows = await this.client.query(
      `UPDATE ${this.#s}.keys k SET credits_usd = coalesce(credits_usd, 0) + $2::numeric,
         credits_granted_usd = credits_granted_usd + $2::numeric, updated_at = $3
       WHERE id = $1 AND revoked_at IS NULL AND coalesce(credits_usd, 0) + $2::numeric >= 0
       RETURNING ${this.#keyColumns('$3')}`,
      [id, amountUsd, new Date(now).toISOString()],
    );
    if (rows[0]) return { key: keyFromRow(rows[0], now) };
    const existing = await this.getKey(id, now);
    return existing && existing.revoked_at === null ? { insufficient: true } : {};
  }

  // ---- reservations -----------------------------------------------------------------------------

  /**
   * Holds `amountUsd` of the key's budget and credits for a request, if it fits; one statement, so
   * concurrent requests on any number of gateways are admitted only while their worst cases fit.
   * A budget period that has ended is started over in the same statement.
   */
  async reserve(keyId: string, reservationId: string, amountUsd: string, now: number): Promise<boolean> {
    const rows = await this.client.query(
      `WITH held AS (
         UPDATE ${this.#s}.keys k SET
           period_spend_usd = CASE WHEN ${periodOver('$4')} THEN 0 ELSE period_spend_usd END,
           period_ends_at = CASE WHEN ${periodOver('$4')} THEN ${nextPeriodEnd('$5', '$6', '$7')} ELSE period_ends_at END,
           reserved_usd = reserved_usd + $3::numeric
         WHERE id = $1 AND revoked_at IS NULL
           AND (max_budget_usd IS NULL OR ${currentSpend('$4')} + reserved_usd + $3::numeric <= max_budget_usd)
           AND (credits_usd IS NULL OR reserved_usd + $3::numeric <= credits_usd)
         RETURNING id
       )
       INSERT INTO ${this.#s}.reservations (id, key_id, held_usd, created_at)
       SELECT $2, id, $3::numeric, $4 FROM held RETURNING id`,
      [keyId, reservationId, amountUsd, new Date(now).toISOString(), ...periodEnds(now)],
    );
    return rows.length === 1;
  }

  /** Raises an existing reservation by `deltaUsd` (a dearer fallback target), if it fits. */
  async extendReservation(keyId: string, reservationId: string, deltaUsd: string, now: number): Promise<boolean> {
    const rows = await this.client.query(
      `WITH held AS (
         UPDATE ${this.#s}.keys k SET reserved_usd = reserved_usd + $3::numeric
         WHERE id = $1 AND revoked_at IS NULL
           AND EXISTS (SELECT 1 FROM ${this.#s}.reservations WHERE id = $2)
           AND (max_budget_usd IS NULL OR ${currentSpend('$4')} + reserved_usd + $3::numeric <= max_budget_usd)
           AND (credits_usd IS NULL OR reserved_usd + $3::numeric <= credits_usd)
         RETURNING id
       )
       UPDATE ${this.#s}.reservations r SET held_usd = held_usd + $3::numeric FROM held WHERE r.id = $2 RETURNING r.id`,
      [keyId, reservationId, deltaUsd, new Date(now).toISOString()],
    );
    return rows.length === 1;
  }

  /**
   * Releases reservations older than `before` whose gateway never settled them (it crashed). A request
   * settled later is still charged: charges come from its ledger row, not from its reservation.
   */
  async expireReservations(before: number): Promise<number> {
    const rows = await this.client.query<{ released: unknown }>(
      `WITH expired AS (
         DELETE FROM ${this.#s}.reservations WHERE created_at < $1 RETURNING key_id, held_usd
       ), per_key AS (
         SELECT key_id, sum(held_usd) AS held FROM expired GROUP BY key_id
       ), released AS (
         UPDATE ${this.#s}.keys k SET reserved_usd = greatest(k.reserved_usd - p.held, 0) FROM per_key p WHERE k.id = p.key_id RETURNING k.id
       )
       SELECT (SELECT count(*) FROM expired) AS released`,
      [new Date(before).toISOString()],
    );
    return toNumber(rows[0]?.released);
  }

  // ---- ledger -----------------------------------------------------------------------------------

  /**
   * Writes ledger rows and settles them, in one statement: each new row charges its cost to its key
   * (period spend, total spend, credits), releases its reservation, and adds to the daily roll-up.
   * Rows already written (a retry after a lost reply) are skipped whole, so nothing is charged twice.
   */
  async writeLedger(rows: readonly LedgerRow[], now: number): Promise<number> {
    if (rows.length === 0) return 0;
    const s = this.#s;
    const result = await this.client.query<{ inserted: unknown }>(
      `WITH incoming AS (
         SELECT ${ledgerColumns.map(([name, type], index) => (type === 'text' ? `r->>${index} AS ${name}` : `(r->>${index})::${type} AS ${name}`)).join(', ')}
         FROM jsonb_array_elements($1::jsonb) AS r
       ), inserted AS (
         INSERT INTO ${s}.usage_ledger (id, request_id, key_id, operation, model_requested, model_served, provider,
           prompt_tokens, cached_tokens, cache_write_tokens, completion_tokens, reasoning_tokens, usage_estimated, cost_usd,
           latency_ms, time_to_first_token_ms, status, outcome, error_type, error_code, cache_hit, streamed, attempts, created_at)
         SELECT id, request_id, key_id, operation, model_requested, model_served, provider,
           prompt_tokens, cached_tokens, cache_write_tokens, completion_tokens, reasoning_tokens, usage_estimated, cost_usd,
           latency_ms, time_to_first_token_ms, status, outcome, error_type, error_code, cache_hit, streamed, attempts, created_at
         FROM incoming
         ON CONFLICT (id) DO NOTHING
         RETURNING *
       ), released AS (
         DELETE FROM ${s}.reservations r USING inserted i WHERE r.id = i.id RETURNING r.key_id, r.held_usd
       ), charges AS (
         SELECT key_id, sum(cost_usd) AS cost FROM inserted WHERE key_id IS NOT NULL GROUP BY key_id
       ), holds AS (
         SELECT key_id, sum(held_usd) AS held FROM released GROUP BY key_id
       ), per_key AS (
         SELECT coalesce(c.key_id, h.key_id) AS key_id, coalesce(c.cost, 0) AS cost, coalesce(h.held, 0) AS held
         FROM charges c FULL JOIN holds h ON c.key_id = h.key_id
       ), settled AS (
         UPDATE ${s}.keys k SET
           reserved_usd = greatest(k.reserved_usd - p.held, 0),
           period_spend_usd = (CASE WHEN ${periodOver('$2')} THEN 0 ELSE k.period_spend_usd END) + p.cost,
           period_ends_at = CASE WHEN ${periodOver('$2')} THEN ${nextPeriodEnd('$3', '$4', '$5')} ELSE k.period_ends_at END,
           total_spend_usd = k.total_spend_usd + p.cost,
           credits_usd = CASE WHEN k.credits_usd IS NULL THEN NULL ELSE k.credits_usd - p.cost END
         FROM per_key p WHERE k.id = p.key_id
         RETURNING k.id
       ), rolled_up AS (
         INSERT INTO ${s}.usage_daily AS d (day, key_id, model, requests, errors, prompt_tokens, cached_tokens, cache_write_tokens,
           completion_tokens, reasoning_tokens, cost_usd)
         SELECT (created_at AT TIME ZONE 'UTC')::date, coalesce(key_id, ''), coalesce(model_served, model_requested, ''),
           count(*), count(*) FILTER (WHERE status >= 400), sum(prompt_tokens), sum(cached_tokens), sum(cache_write_tokens),
           sum(completion_tokens), sum(reasoning_tokens), sum(cost_usd)
         FROM inserted GROUP BY 1, 2, 3
         ON CONFLICT (day, key_id, model) DO UPDATE SET
           requests = d.requests + excluded.requests, errors = d.errors + excluded.errors,
           prompt_tokens = d.prompt_tokens + excluded.prompt_tokens, cached_tokens = d.cached_tokens + excluded.cached_tokens,
           cache_write_tokens = d.cache_write_tokens + excluded.cache_write_tokens,
           completion_tokens = d.completion_tokens + excluded.completion_tokens,
           reasoning_tokens = d.reasoning_tokens + excluded.reasoning_tokens, cost_usd = d.cost_usd + excluded.cost_usd
         RETURNING 1
       )
       SELECT (SELECT count(*) FROM inserted) AS inserted, (SELECT count(*) FROM settled) AS settled, (SELECT count(*) FROM rolled_up) AS rolled_up`,
      [ledgerRowsJson(rows), new Date(now).toISOString(), ...periodEnds(now)],
      // Prepared once per connection: parsing and planning this statement cost PostgreSQL about a fifth
      // of each batch's CPU.
      { preparedName: `ledger:${this.schema}` },
    );
    return toNumber(result[0]?.inserted);
  }

  async countLedgerRows(keyId?: string): Promise<number> {
    const rows = await this.client.query<{ count: unknown }>(
      `SELECT count(*) AS count FROM ${this.#s}.usage_ledger WHERE ($1::text IS NULL OR key_id = $1)`,
      [keyId ?? null],
    );
    return toNumber(rows[0]?.count);
  }

  async listRequests(query: RequestsQuery): Promise<LedgerRow[]> {
    const rows = await this.client.query(
      `SELECT * FROM ${this.#s}.usage_ledger
       WHERE ($1::text IS NULL OR key_id = $1) AND ($2::timestamptz IS NULL OR created_at >= $2) AND ($3::timestamptz IS NULL OR created_at < $3)
         AND ($4::text IS NULL OR (created_at, id) < (SELECT created_at, id FROM ${this.#s}.usage_ledger WHERE id = $4))
       ORDER BY created_at DESC, id DESC LIMIT $5`,
      [query.keyId ?? null, query.from ?? null, query.to ?? null, query.before ?? null, query.limit],
    );
    return rows.map(ledgerFromRow);
  }

  /**
   * Requests, tokens and cost grouped by key, model or UTC day. Whole-day ranges read the daily
   * roll-up (one row per key × model × day, however many requests); others read the ledger.
   */
  async usageReport(query: UsageQuery): Promise<UsageReport> {
    const wholeDays = [query.from, query.to].every((time) => time === undefined || Date.parse(time) % day === 0);
    const group = { key: 'key_id', model: 'model', day: 'day' }[query.groupBy];
    const sums = `count(*) AS requests, count(*) FILTER (WHERE status >= 400) AS errors, sum(prompt_tokens) AS prompt_tokens,
      sum(cached_tokens) AS cached_tokens, sum(cache_write_tokens) AS cache_write_tokens, sum(completion_tokens) AS completion_tokens,
      sum(reasoning_tokens) AS reasoning_tokens, sum(cost_usd) AS cost_usd`;
    let rows: Array<Record<string, unknown>>;
    if (wholeDays) {
      rows = await this.client.query(
        `SELECT ${group === 'key_id' ? "nullif(key_id, '')" : group === 'model' ? "nullif(model, '')" : 'day::text'} AS grouped,
           sum(requests) AS requests, sum(errors) AS errors, sum(prompt_tokens) AS prompt_tokens, sum(cached_tokens) AS cached_tokens,
           sum(cache_write_tokens) AS cache_write_tokens, sum(completion_tokens) AS completion_tokens,
           sum(reasoning_tokens) AS reasoning_tokens, sum(cost_usd) AS cost_usd
         FROM ${this.#s}.usage_daily
         WHERE ($1::text IS NULL OR key_id = $1) AND ($2::timestamptz IS NULL OR day >= ($2::timestamptz AT TIME ZONE 'UTC')::date)
           AND ($3::timestamptz IS NULL OR day < ($3::timestamptz AT TIME ZONE 'UTC')::date)
         GROUP BY 1 ORDER BY 1`,
        [query.keyId ?? null, query.from ?? null, query.to ?? null],
      );
    } else {
      const expression = group === 'key_id' ? 'key_id' : group === 'model' ? 'coalesce(model_served, model_requested)' : "((created_at AT TIME ZONE 'UTC')::date)::text";
      rows = await this.client.query(
        `SELECT ${expression} AS grouped, ${sums} FROM ${this.#s}.usage_ledger
         WHERE ($1::text IS NULL OR key_id = $1) AND ($2::timestamptz IS NULL OR created_at >= $2) AND ($3::timestamptz IS NULL OR created_at < $3)
         GROUP BY 1 ORDER BY 1`,
        [query.keyId ?? null, query.from ?? null, query.to ?? null],
      );
    }
    return {
      source: wholeDays ? 'daily_rollup' : 'ledger',
      rows: rows.map((row) => {
        const promptTokens = toNumber(row.prompt_tokens);
        const completionTokens = toNumber(row.completion_tokens);
        const grouped = row.grouped === null || row.grouped === undefined ? null : String(row.grouped);
        return {
          ...(query.groupBy === 'key' ? { key_id: grouped } : query.groupBy === 'model' ? { model: grouped } : { day: grouped ?? '' }),
          requests: toNumber(row.requests),
          errors: toNumber(row.errors),
          prompt_tokens: promptTokens,
          cached_tokens: toNumber(row.cached_tokens),
          cache_write_tokens: toNumber(row.cache_write_tokens),
          completion_tokens: completionTokens,
          reasoning_tokens: toNumber(row.reasoning_tokens),
          total_tokens: promptTokens + completionTokens,
          cost_usd: toNumber(row.cost_usd),
        };
      }),
    };
  }

  /** Key columns with spend as of `now`: a period that has ended reads as zero before anyone writes. */
  #keyColumns(nowParameter: string): string {
    return `id, name, key_prefix, models, max_budget_usd, budget_period, rpm, tpm, max_concurrency, expires_at, metadata,
      created_at, updated_at, revoked_at, total_spend_usd, reserved_usd, credits_usd, credits_granted_usd,
      ${currentSpend(nowParameter)} AS period_spend_usd,
      CASE WHEN ${periodOver(nowParameter)} THEN NULL ELSE period_ends_at END AS period_ends_at,
      ${periodOver(nowParameter)} AS period_over`;
  }
}

/** Whether the key's budget period has ended by the time in `nowParameter`. */
function periodOver(nowParameter: string): string {
  return `(period_ends_at IS NOT NULL AND period_ends_at <= ${nowParameter}::timestamptz)`;
}

function currentSpend(nowParameter: string): string {
  return `(CASE WHEN ${periodOver(nowParameter)} THEN 0 ELSE period_spend_usd END)`;
}

function nextPeriodEnd(daily: string, weekly: string, monthly: string): string {
  return `(CASE budget_period WHEN 'daily' THEN ${daily}::timestamptz WHEN 'weekly' THEN ${weekly}::timestamptz WHEN 'monthly' THEN ${monthly}::timestamptz ELSE NULL END)`;
}

/** The end of the period containing `now` for each kind, for statements that start a new period. */
function periodEnds(now: number): [string, string, string] {
  return [toIso(periodEnd('daily', now))!, toIso(periodEnd('weekly', now))!, toIso(periodEnd('monthly', now))!];
}

function keyFromRow(row: Record<string, unknown>, now: number): KeyWithBalance {
  const models = row.models as unknown;
  const maxBudget = toNullableNumber(row.max_budget_usd);
  const credits = toNullableNumber(row.credits_usd);
  const reserved = toNumber(row.reserved_usd);
  const spend = toNumber(row.period_spend_usd);
  const budgetPeriod = String(row.budget_period) as BudgetPeriod;
  let periodEndsAt = toIso(row.period_ends_at);
  // A period that has ended but not yet been started over by a write ends at the next boundary.
  if (row.period_over === true) periodEndsAt = toIso(periodEnd(budgetPeriod, now));
  return {
    id: String(row.id),
    name: String(row.name),
    key_prefix: String(row.key_prefix),
    models: Array.isArray(models) ? (models as string[]) : typeof models === 'string' ? (JSON.parse(models) as string[]) : null,
    max_budget_usd: maxBudget,
    budget_period: budgetPeriod,
    rpm: toNullableNumber(row.rpm),
    tpm: toNullableNumber(row.tpm),
    max_concurrency: toNullableNumber(row.max_concurrency),
    expires_at: toIso(row.expires_at),
    metadata: (typeof row.metadata === 'string' ? JSON.parse(row.metadata) : (row.metadata ?? {})) as Record<string, unknown>,
    prepaid: credits !== null,
    created_at: toIso(row.created_at)!,
    updated_at: toIso(row.updated_at)!,
    revoked_at: toIso(row.revoked_at),
    spend_usd: spend,
    total_spend_usd: toNumber(row.total_spend_usd),
    reserved_usd: reserved,
    budget_remaining_usd: maxBudget === null ? null : Math.max(0, roundTen(maxBudget - spend - reserved)),
    credits_usd: credits,
    credits_available_usd: credits === null ? null : Math.max(0, roundTen(credits - reserved)),
    credits_granted_usd: toNumber(row.credits_granted_usd),
    period_ends_at: periodEndsAt,
  };
}

const roundTen = (value: number) => Math.round(value * 1e10) / 1e10;

function ledgerFromRow(row: Record<string, unknown>): LedgerRow {
  return {
    id: String(row.id),
    request_id: String(row.request_id),
    key_id: row.key_id === null ? null : String(row.key_id),
    operation: row.operation as LedgerRow['operation'],
    model_requested: (row.model_requested as string | null) ?? null,
    model_served: (row.model_served as string | null) ?? null,
    provider: (row.provider as string | null) ?? null,
    prompt_tokens: toNumber(row.prompt_tokens),
    cached_tokens: toNumber(row.cached_tokens),
    cache_write_tokens: toNumber(row.cache_write_tokens),
    completion_tokens: toNumber(row.completion_tokens),
    reasoning_tokens: toNumber(row.reasoning_tokens),
    usage_estimated: row.usage_estimated === true,
    cost_usd: String(row.cost_usd),
    latency_ms: toNumber(row.latency_ms),
    time_to_first_token_ms: toNullableNumber(row.time_to_first_token_ms),
    status: toNumber(row.status),
    outcome: row.outcome as LedgerOutcome,
    error_type: (row.error_type as string | null) ?? null,
    error_code: (row.error_code as string | null) ?? null,
    cache_hit: row.cache_hit === true,
    streamed: row.streamed === true,
    attempts: toNumber(row.attempts),
    created_at: toIso(row.created_at)!,
  };
}

/** The schema, one list of statements per version; a version once released is never edited. */
function migrations(s: string): string[][] {
  return [
    [
      `CREATE TABLE ${s}.keys (
        id text PRIMARY KEY,
        name text NOT NULL,
        key_hash text NOT NULL UNIQUE,
        key_prefix text NOT NULL,
        models jsonb,
        max_budget_usd numeric(20, 10) CHECK (max_budget_usd >= 0),
        budget_period text NOT NULL DEFAULT 'none' CHECK (budget_period IN ('none', 'daily', 'weekly', 'monthly')),
        period_ends_at timestamptz,
        period_spend_usd numeric(20, 10) NOT NULL DEFAULT 0,
        total_spend_usd numeric(20, 10) NOT NULL DEFAULT 0,
        reserved_usd numeric(20, 10) NOT NULL DEFAULT 0,
        credits_usd numeric(20, 10),
        credits_granted_usd numeric(20, 10) NOT NULL DEFAULT 0,
        rpm integer,
        tpm integer,
        max_concurrency integer,
        expires_at timestamptz,
        metadata jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        revoked_at timestamptz
      )`,
      `CREATE TABLE ${s}.reservations (
        id text PRIMARY KEY,
        key_id text NOT NULL REFERENCES ${s}.keys (id),
        held_usd numeric(20, 10) NOT NULL,
        created_at timestamptz NOT NULL
      )`,
      `CREATE INDEX reservations_created_at ON ${s}.reservations (created_at)`,
      `CREATE TABLE ${s}.usage_ledger (
        id text PRIMARY KEY,
        request_id text NOT NULL,
        key_id text,
        operation text NOT NULL,
        model_requested text,
        model_served text,
        provider text,
        prompt_tokens integer NOT NULL DEFAULT 0,
        cached_tokens integer NOT NULL DEFAULT 0,
        cache_write_tokens integer NOT NULL DEFAULT 0,
        completion_tokens integer NOT NULL DEFAULT 0,
        reasoning_tokens integer NOT NULL DEFAULT 0,
        usage_estimated boolean NOT NULL DEFAULT false,
        cost_usd numeric(20, 10) NOT NULL DEFAULT 0,
        latency_ms double precision NOT NULL,
        time_to_first_token_ms double precision,
        status integer NOT NULL,
        outcome text NOT NULL,
        error_type text,
        error_code text,
        cache_hit boolean NOT NULL DEFAULT false,
        streamed boolean NOT NULL DEFAULT false,
        attempts integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL
      )`,
      `CREATE INDEX usage_ledger_key_created ON ${s}.usage_ledger (key_id, created_at)`,
      `CREATE INDEX usage_ledger_created ON ${s}.usage_ledger (created_at)`,
      `CREATE INDEX usage_ledger_request ON ${s}.usage_ledger (request_id)`,
      `CREATE TABLE ${s}.usage_daily (
        day date NOT NULL,
        key_id text NOT NULL,
        model text NOT NULL,
        requests bigint NOT NULL,
        errors bigint NOT NULL,
        prompt_tokens bigint NOT NULL,
        cached_tokens bigint NOT NULL,
        cache_write_tokens bigint NOT NULL,
        completion_tokens bigint NOT NULL,
        reasoning_tokens bigint NOT NULL,
        cost_usd numeric(24, 10) NOT NULL,
        PRIMARY KEY (day, key_id, model)
      )`,
      `CREATE INDEX usage_daily_key_day ON ${s}.usage_daily (key_id, day)`,
    ],
  ];
}
