import pg from 'pg';
import type { SqlClient, SqlQueryable, SqlQueryOptions } from './sql-client.js';

export interface PostgresClientOptions {
  /** `postgres://user:password@host:port/database` */
  connectionString: string;
  /** Connections in the pool. Default 10. */
  maxConnections?: number;
  /** How long to wait for a connection before failing the statement (a down database fails fast). Default 3 s. */
  connectTimeoutMs?: number;
  /** Longest a statement may run. Default 10 s. */
  statementTimeoutMs?: number;
  /** Called with connection errors that happen while no statement is running. */
  onIdleError?: (error: Error) => void;
}

/** Shows where a connection string points, without the password. */
export function describeConnectionString(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    return `PostgreSQL at ${url.hostname}:${url.port || '5432'}${url.pathname}`;
  } catch {
    return 'PostgreSQL';
  }
}

export function openPostgres(options: PostgresClientOptions): SqlClient {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 3_000,
    query_timeout: options.statementTimeoutMs ?? 10_000,
    statement_timeout: options.statementTimeoutMs ?? 10_000,
    idleTimeoutMillis: 30_000,
  });
  // A connection dropped while idle (database restart, network blip) must not crash the gateway; the
  // pool replaces it on the next statement.
  pool.on('error', (error) => options.onIdleError?.(error));
  return {
    description: describeConnectionString(options.connectionString),
    async query<Row>(text: string, params: readonly unknown[] = [], options?: SqlQueryOptions) {
      const values = params as unknown[];
      const result = await pool.query(options?.preparedName ? { name: options.preparedName, text, values } : { text, values });
      return result.rows as Row[];
    },
    async transaction<T>(run: (client: SqlQueryable) => Promise<T>) {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await run({
          async query<Row>(text: string, params: readonly unknown[] = []) {
            const queried = await client.query(text, params as unknown[]);
            return queried.rows as Row[];
          },
        });
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackError: Error) => {
          broken = rollbackError;
        });
        throw error;
      } finally {
        // A connection whose rollback failed is in an unknown state: destroy it rather than reuse it.
        client.release(broken);
      }
    },
    async close() {
      await pool.end();
    },
  };
}
