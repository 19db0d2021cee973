/**
 * The little of a SQL connection the billing store needs. Both stores speak PostgreSQL (PGlite is
 * Postgres compiled to WebAssembly), so one schema and one set of queries serve both; only this
 * interface has two implementations.
 */
export interface SqlQueryOptions {
  /**
   * Prepares the statement once per connection under this name and reuses it: for statements run again
   * and again with the same text (the ledger write), whose parsing and planning would otherwise be paid
   * every time. One name, one text: put whatever varies the text (the schema) in the name.
   */
  preparedName?: string;
}

export interface SqlQueryable {
  /** Runs one statement with `$1`-style parameters and returns its rows. */
  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[], options?: SqlQueryOptions): Promise<Row[]>;
}

export interface SqlClient extends SqlQueryable {
  /** Runs `run` in a transaction on one connection: committed when it resolves, rolled back when it throws. */
  transaction<T>(run: (client: SqlQueryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /** For logs and the startup line: `postgres://host:port/db` without credentials, or the data directory. */
  readonly description: string;
}
