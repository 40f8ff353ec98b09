import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PGliteDialect } from 'kysely';
import { quoteIdent, type Database, type DB } from './index.ts';
import { postgresClient, postgresKysely } from './postgres.ts';

export interface OpenOptions {
  databaseUrl?: string | undefined;
  /** Folder for the embedded database; `memory://` for a throwaway in-memory one. */
  dataDir?: string;
  maxConnections?: number;
}

/** Node's database: real PostgreSQL when a URL is given, else embedded PGlite. */
export async function openDatabase(opts: OpenOptions): Promise<Database> {
  if (opts.databaseUrl) return openPostgres(opts.databaseUrl, opts.maxConnections ?? 10);
  return openPglite(opts.dataDir ?? './data');
}

export async function openPostgres(url: string, max = 10): Promise<Database> {
  const client = postgresClient(url, max);
  const db = postgresKysely(client);
  return {
    kind: 'postgres',
    db,
    async copyIn(table, columns, csv) {
      const cols = columns.map(quoteIdent).join(', ');
      const stream = await client
        .unsafe(`copy ${quoteIdent(table)} (${cols}) from stdin with (format csv)`)
        .writable();
      await new Promise<void>((resolve, reject) => {
        stream.on('error', reject);
        stream.on('finish', resolve);
        stream.end(csv);
      });
    },
    close: () => db.destroy(),
  };
}

export async function openPglite(dataDir: string): Promise<Database> {
  const memory = dataDir.startsWith('memory://');
  if (!memory) mkdirSync(dataDir, { recursive: true });
  const pglite = await PGlite.create(memory ? undefined : dataDir, {
    parsers: { 20: Number, 1700: Number, 1082: (v: string) => v },
  });
  const db = new Kysely<DB>({ dialect: new PGliteDialect({ pglite }) });
  return {
    kind: 'pglite',
    db,
    async copyIn(table, columns, csv) {
      const cols = columns.map(quoteIdent).join(', ');
      await pglite.query(`copy ${quoteIdent(table)} (${cols}) from '/dev/blob' with (format csv)`, [], {
        blob: new Blob([csv]),
      });
    },
    close: () => db.destroy(),
  };
}
