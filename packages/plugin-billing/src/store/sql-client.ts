/**
 * The little of a SQL connection the billing store needs. Both stores speak PostgreSQL (PGlite is
 * Postgres compiled to WebAssembly), so one schema and one set of queries serve both; only this
 * interface has two implementations.
 */
export interface SqlQueryable {
  /** Runs one statement with `$1`-style parameters and returns its rows. */
  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<Row[]>;
}

export interface SqlClient extends SqlQueryable {
  /** Runs `run` in a transaction on one connection: committed when it resolves, rolled back when it throws. */
  transaction<T>(run: (client: SqlQueryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /** For logs and the startup line: `postgres://host:port/db` without credentials, or the data directory. */
  readonly description: string;
}
