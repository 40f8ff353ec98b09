import { createReadStream, createWriteStream, existsSync, statSync, unlinkSync, type WriteStream } from 'node:fs';
import { parseArgs } from 'node:util';
import { createApiKey, listApiKeys, revokeApiKey } from './auth/index.ts';
import { parseConfig, type Config } from './config.ts';
import { migrateToLatest, type Database } from './db/index.ts';
import { DataDirBusyError, lockDataDir } from './db/lock.ts';
import { openDatabase } from './db/node.ts';
import type { Deps } from './deps.ts';
import { csvLine } from './ingest/csv.ts';
import { importBaskets, importMembers, importProducts, type ImportSummary, type RejectedRow } from './ingest/import-csv.ts';
import { AppError } from './lib/errors.ts';
import { systemClock } from './lib/clock.ts';
import { cryptoIds } from './lib/ids.ts';
import { jsonLogger } from './lib/logger.ts';
import { progressBar } from './lib/progress.ts';

const usage = `cadence — command line of the Cadence loyalty engine

  migrate                                   bring the database schema up to date
  import baskets|products|members FILE      import a CSV file (see README for the formats)
        [--time-zone ZONE] [--batch N]      zone for timestamps without offset (default CHAIN_TIME_ZONE)
  keys create --role admin|marketer|vendor|pos [--store N] [--manufacturer ID] [--name TEXT]
  keys list
  keys revoke ID

The database is DATABASE_URL when set, else the embedded one in DATA_DIR (default ./data).
Exit codes: 0 done, 1 failed, 2 done but some rows were rejected (see FILE.errors.csv).`;

class UsageError extends Error {}

interface Session {
  config: Config;
  database: Database;
  deps: Deps;
}

async function openSession(config: Config): Promise<Session & { close(): Promise<void> }> {
  const release = config.DATABASE_URL ? () => {} : lockDataDir(config.DATA_DIR, { owner: 'cli' });
  const database = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR });
  await migrateToLatest(database.db);
  const deps: Deps = {
    db: database.db,
    copyIn: database.copyIn,
    clock: systemClock,
    ids: cryptoIds,
    logger: jsonLogger(config.LOG_LEVEL, (line) => process.stderr.write(`${line}\n`)),
    config,
  };
  return {
    config,
    database,
    deps,
    async close() {
      await database.close();
      release();
    },
  };
}

function errorsPathFor(file: string): string {
  return file.replace(/(\.[^./]+)?$/, '.errors.csv');
}

async function runImport(session: Session, kind: string, file: string, flags: { 'time-zone'?: string; batch?: string }) {
  const importers = { baskets: importBaskets, products: importProducts, members: importMembers } as const;
  const importer = importers[kind as keyof typeof importers];
  if (!importer) throw new UsageError(`import what? baskets, products or members — not ${kind}`);
  if (!existsSync(file)) throw new UsageError(`${file}: no such file`);
  const size = statSync(file).size;
  const errorsPath = errorsPathFor(file);
  if (existsSync(errorsPath)) unlinkSync(errorsPath);
  let errors: WriteStream | null = null;
  const onReject = (row: RejectedRow) => {
    if (!errors) {
      errors = createWriteStream(errorsPath);
      errors.write('line,field,reason,row\n');
    }
    errors.write(`${csvLine([row.line, row.field, row.reason, row.raw])}\n`);
  };
  let bytes = 0;
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 });
  async function* counted() {
    for await (const chunk of stream as AsyncIterable<string>) {
      bytes += Buffer.byteLength(chunk);
      yield chunk;
    }
  }
  const bar = progressBar({
    label: `import ${kind}`,
    unit: 'rows',
    write: (t) => process.stderr.write(t),
    isTty: !!process.stderr.isTTY,
    now: () => performance.now(),
  });
  let summary: ImportSummary;
  try {
    summary = await importer(session.deps, counted(), {
      timeZone: flags['time-zone'] ?? session.config.CHAIN_TIME_ZONE,
      ...(flags.batch ? { batchSize: Number(flags.batch) } : {}),
      onReject,
      onProgress: (rows) => bar.update(rows, size > 0 ? bytes / size : undefined),
    });
  } catch (err) {
    if (err instanceof AppError) {
      throw new UsageError(`${file}:1: ${err.issues.map((i) => i.message).join('; ') || err.message}`);
    }
    throw err;
  } finally {
    const open = errors as WriteStream | null;
    if (open) await new Promise<void>((resolve) => open.end(resolve));
  }
  bar.update(summary.rows, 1);
  bar.finish();
  const parts = [`${summary.rows} rows`, `${summary.imported} imported`, `${summary.rejected} rejected`];
  if (summary.created !== undefined) {
    parts.push(`${summary.created} baskets created`, `${summary.duplicates} already stored`, `${summary.conflicts} conflicts`, `${summary.unknownGtins} unknown GTINs`);
  }
  console.log(parts.join(', '));
  if (summary.rejected > 0) {
    console.log(`rejected rows (line, field, reason): ${errorsPath}`);
    return 2;
  }
  return 0;
}

export async function main(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      role: { type: 'string' },
      store: { type: 'string' },
      manufacturer: { type: 'string' },
      name: { type: 'string' },
      'time-zone': { type: 'string' },
      batch: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, sub, arg] = positionals;
  if (!command || values.help) {
    console.log(usage);
    return command ? 0 : 1;
  }
  const parsed = parseConfig(env);
  if (!parsed.ok) throw new UsageError(`bad configuration:\n  ${parsed.errors.join('\n  ')}`);
  const session = await openSession(parsed.config);
  try {
    switch (command) {
      case 'migrate':
        console.log('schema is up to date');
        return 0;
      case 'import':
        if (!sub || !arg) throw new UsageError('usage: import baskets|products|members FILE');
        return await runImport(session, sub, arg, values);
      case 'keys':
        if (sub === 'create') {
          const role = values.role as 'admin' | 'marketer' | 'vendor' | 'pos' | undefined;
          if (!role || !['admin', 'marketer', 'vendor', 'pos'].includes(role)) {
            throw new UsageError('keys create needs --role admin|marketer|vendor|pos');
          }
          const created = await createApiKey(session.deps, {
            name: values.name ?? `${role} key`,
            role,
            ...(values.store ? { storeId: Number(values.store) } : {}),
            ...(values.manufacturer ? { manufacturerId: values.manufacturer } : {}),
          });
          console.log(`created ${created.role} key #${created.id}${created.storeId ? ` for store ${created.storeId}` : ''}`);
          console.log(`key (shown once, only its hash is stored): ${created.key}`);
          return 0;
        }
        if (sub === 'list') {
          for (const k of await listApiKeys(session.deps)) {
            console.log(`#${k.id}\t${k.role}\t${k.prefix}…\t${k.storeId ?? k.manufacturerId ?? ''}\t${k.name}${k.revokedAt ? '\trevoked' : ''}`);
          }
          return 0;
        }
        if (sub === 'revoke' && arg) {
          await revokeApiKey(session.deps, Number(arg));
          console.log(`revoked key #${arg}`);
          return 0;
        }
        throw new UsageError('usage: keys create|list|revoke');
      default:
        throw new UsageError(`unknown command ${command}\n\n${usage}`);
    }
  } finally {
    await session.close();
  }
}

const isEntry = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isEntry) {
  main(process.argv.slice(2), process.env).then(
    (code) => process.exit(code),
    (err: unknown) => {
      if (err instanceof UsageError || err instanceof DataDirBusyError) console.error(`cadence: ${err.message}`);
      else if (err instanceof AppError) {
        console.error(`cadence: ${err.message}`);
        for (const i of err.issues) console.error(`  ${i.path}: ${i.message}`);
      } else console.error(err);
      process.exit(1);
    },
  );
}
