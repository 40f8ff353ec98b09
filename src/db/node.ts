import { connect, type Socket } from 'node:net';
import type { PGlite, Transaction as PGliteTransaction } from '@electric-sql/pglite';
import { Kysely, PGliteDialect } from 'kysely';
import type postgres from 'postgres';
import { quoteIdent, type CopyIn, type CopyTx, type Database, type DB, type Tx } from './index.ts';
import { ensurePrivateDir } from './lock.ts';
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
  const client = postgresClient(url, max, singleTcpHost(url) ? { socket: noDelaySocket } : {});
  const db = postgresKysely(client);
  const copyVia = (sql: postgres.Sql | postgres.ReservedSql): CopyIn => async (table, columns, csv) => {
    const cols = columns.map(quoteIdent).join(', ');
    const stream = await sql.unsafe(`copy ${quoteIdent(table)} (${cols}) from stdin with (format csv)`).writable();
    await new Promise<void>((resolve, reject) => {
      stream.on('error', reject);
      stream.on('finish', resolve);
      stream.end(csv);
    });
  };
  // One reserved connection carries both the Kysely transaction and the COPY: a Kysely instance
  // over a stand-in client whose reserve() always hands out that connection.
  const inTx = async <T>(fn: (tx: Tx, copyIn: CopyIn) => Promise<T>): Promise<T> => {
    const reserved = await client.reserve();
    try {
      const pinned = Object.assign(() => Promise.reject(new Error('pinned connection: use reserve()')), {
        options: client.options,
        reserve: async () => ({ unsafe: reserved.unsafe.bind(reserved), release: () => {} }),
        end: async () => {},
      });
      const pinnedDb = postgresKysely(pinned as unknown as postgres.Sql);
      return await pinnedDb.transaction().execute((tx) => fn(tx, copyVia(reserved)));
    } finally {
      reserved.release();
    }
  };
  const copyTx: CopyTx = Object.assign(inTx, { db, copyIntoIndexed: true });
  return { kind: 'postgres', db, copyIn: copyVia(client), copyTx, close: () => db.destroy() };
}

/**
 * postgres.js connects with Nagle's algorithm on. A COPY sends its data and then CopyDone as two
 * small writes; the second waits for the server's delayed ACK, ~40 ms per COPY (measured: 90 ms
 * for a 1,250-row COPY, 2 ms with TCP_NODELAY). So we open the socket ourselves, with noDelay.
 * postgres.js rotates multiple hosts itself: those keep its own socket.
 */
function noDelaySocket(o: { host: string[]; port: number[] }): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: o.host[0]!, port: o.port[0]!, noDelay: true });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

function singleTcpHost(url: string): boolean {
  try {
    const u = new URL(url);
    return u.hostname !== '' && !u.hostname.includes(',') && !u.searchParams.has('host');
  } catch {
    return false; // e.g. several hosts, which URL cannot parse
  }
}

export async function openPglite(dataDir: string): Promise<Database> {
  const memory = dataDir.startsWith('memory://');
  if (!memory) ensurePrivateDir(dataDir);
  // Imported here: a process on PostgreSQL never loads PGlite (its WASM module costs CLI start time).
  const { PGlite: PGliteClass } = await import('@electric-sql/pglite');
  const pglite = await PGliteClass.create(memory ? undefined : dataDir, {
    parsers: { 20: Number, 1700: Number, 1082: (v: string) => v },
  });
  const db = new Kysely<DB>({ dialect: new PGliteDialect({ pglite }) });
  const copyVia =
    (target: PGlite | PGliteTransaction): CopyIn =>
    async (table, columns, csv) => {
      const cols = columns.map(quoteIdent).join(', ');
      await target.query(`copy ${quoteIdent(table)} (${cols}) from '/dev/blob' with (format csv)`, [], {
        blob: new Blob([csv]),
      });
    };
  // Inside a PGlite transaction, queries must go through its Transaction object (plain queries
  // wait for the transaction to end). A stand-in PGlite hands that object to the COPY as well.
  const inTx = async <T>(fn: (tx: Tx, copyIn: CopyIn) => Promise<T>): Promise<T> => {
    let current: PGliteTransaction | null = null;
    const facade = {
      get closed() {
        return pglite.closed;
      },
      ready: true,
      waitReady: Promise.resolve(),
      query: pglite.query.bind(pglite),
      transaction: <T>(cb: (t: PGliteTransaction) => Promise<T>) =>
        pglite.transaction(async (t) => {
          current = t;
          try {
            return await cb(t);
          } finally {
            current = null;
          }
        }),
      close: async () => {},
    };
    const pinnedDb = new Kysely<DB>({ dialect: new PGliteDialect({ pglite: facade as unknown as PGlite }) });
    return pinnedDb.transaction().execute((tx) =>
      fn(tx, (table, columns, csv) => {
        if (!current) throw new Error('copyTx: COPY outside its transaction');
        return copyVia(current)(table, columns, csv);
      }),
    );
  };
  const copyTx: CopyTx = Object.assign(inTx, { db, copyIntoIndexed: false });
  return { kind: 'pglite', db, copyIn: copyVia(pglite), copyTx, close: () => db.destroy() };
}
