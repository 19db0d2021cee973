import { mkdir } from 'node:fs/promises';
import type { PGlite } from '@electric-sql/pglite';
import type { SqlClient, SqlQueryable } from './sql-client.js';

/**
 * The embedded store: PostgreSQL compiled to WebAssembly, in-process, its data in a directory that
 * survives restarts. `memory://` keeps it in memory (tests, throwaway demos).
 *
 * One process may open a data directory at a time; several gateways must share PostgreSQL instead.
 */
export async function openPGlite(dataDirectory: string): Promise<SqlClient> {
  const inMemory = dataDirectory === 'memory://' || dataDirectory === '';
  if (!inMemory) await mkdir(dataDirectory, { recursive: true });
  // Loaded on first use: the WebAssembly build is large, and gateways on PostgreSQL never need it.
  const { PGlite: PGliteClass } = await import('@electric-sql/pglite');
  const database: PGlite = await PGliteClass.create(inMemory ? undefined : { dataDir: dataDirectory });
  let closed = false;
  return {
    description: inMemory ? 'embedded PostgreSQL (PGlite) in memory' : `embedded PostgreSQL (PGlite) in ${dataDirectory}`,
    async query<Row>(text: string, params: readonly unknown[] = []) {
      const result = await database.query<Row>(text, params as unknown[]);
      return result.rows;
    },
    async transaction<T>(run: (client: SqlQueryable) => Promise<T>) {
      return database.transaction(async (transaction) =>
        run({
          async query<Row>(text: string, params: readonly unknown[] = []) {
            const result = await transaction.query<Row>(text, params as unknown[]);
            return result.rows;
          },
        }),
      );
    },
    async close() {
      if (closed) return;
      closed = true;
      await database.close();
    },
  };
}
