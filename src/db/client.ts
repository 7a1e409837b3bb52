import { PGlite } from '@electric-sql/pglite';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import { Param, sql, type ExtractTablesWithRelations, type SQL } from 'drizzle-orm';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import type pg from 'pg';
import { GuardedPool } from './pool.js';
import { makePrivate } from './private-dir.js';
import * as schema from './schema.js';

export type Schema = typeof schema;
/** The one database type the repositories see, whichever driver is behind it. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
export type Tx = PgTransaction<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;
/** A repository call runs on the pool or inside a caller's transaction. */
export type Executor = Db | Tx;

/**
 * A statement written with positional parameters ($1, $2, … each naming `values[n - 1]`)
 * as drizzle SQL, so one text serves a prepared statement and a transaction's executor.
 */
export function positional(text: string, values: unknown[]): SQL {
  const parts = text.split(/\$(\d+)/);
  const chunks: SQL[] = [];
  parts.forEach((part, i) =>
    chunks.push(i % 2 === 0 ? sql.raw(part) : sql`${new Param(values[Number(part) - 1])}`),
  );
  return sql.join(chunks);
}

/** node-postgres answers `{rows}`; PGlite too — one shape for both drivers. */
export function rowsOf<T>(result: unknown): T[] {
  return (result as { rows: T[] }).rows;
}

export interface Database {
  db: Db;
  kind: 'postgres' | 'pglite';
  /** The node-postgres pool, when not embedded (migrations need one session for their lock). */
  pool?: pg.Pool;
  /**
   * One hot statement by name: node-postgres prepares it once per connection and then sends
   * only its parameters (the text of a large statement no longer crosses the socket, nor is
   * parsed, each call); PGlite runs it as a plain parameterised query.
   */
  prepared<T>(name: string, text: string, values: unknown[]): Promise<T[]>;
  /** Cheap round trip for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export function openPostgres(url: string, poolSize = 10): Database {
  const pool = new GuardedPool({ connectionString: url, max: poolSize, connectionTimeoutMillis: 5_000 });
  // A client losing its server, idle or checked out, must not crash the process: the query
  // in flight (if any) rejects and reports it.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  const db = drizzlePg(pool, { schema }) as unknown as Db;
  return {
    db,
    kind: 'postgres',
    pool,
    prepared: async <T>(name: string, text: string, values: unknown[]) =>
      (await pool.query({ name, text, values })).rows as T[],
    ping: async () => {
      await pool.query('select 1');
    },
    close: () => pool.end(),
  };
}

/** Embedded PostgreSQL persisted under dataDir, private to this user (or in memory for `memory://`). */
export async function openPglite(dataDir: string): Promise<Database> {
  const persisted = !dataDir.startsWith('memory://');
  if (persisted) makePrivate(dataDir);
  const client = await PGlite.create(dataDir);
  try {
    // PGlite has just unpacked (first start) and rewritten files, with modes of its own.
    if (persisted) makePrivate(dataDir);
  } catch (err) {
    await client.close();
    throw err;
  }
  const db = drizzlePglite(client, { schema }) as unknown as Db;
  return {
    db,
    kind: 'pglite',
    prepared: async <T>(_name: string, text: string, values: unknown[]) =>
      (await client.query<T>(text, values)).rows,
    ping: async () => {
      await client.query('select 1');
    },
    close: async () => {
      await client.close();
      if (persisted) makePrivate(dataDir);
    },
  };
}
