/**
 * Loaded first by the npm scripts (`node --import ./src/preload.mjs --import tsx …`), before tsx
 * registers its module hooks: a module already loaded does not go through them again. tsx's hooks
 * run on a thread of their own and every module's resolve and load is a round trip to it; kysely
 * is about 300 files and zod about 100, and through the hooks they were half of every start.
 * Measured on this project's 2-core machine, the script's command run three times each way:
 * `cadence --help` 1.05–1.09 s → 0.78–0.79 s of wall time (user + system CPU 1.75 s → 1.1 s);
 * loading the server's modules (src/app.ts) 1.46–1.65 s → 1.21–1.51 s. The TypeScript code gets
 * these very instances (the same module URLs): test/e2e/preload.test.ts.
 *
 * Plain JavaScript because it runs before any TypeScript can; only what every entry (server,
 * CLI) loads anyway: preloading the server's PDF and barcode libraries slowed the CLI down.
 */
await Promise.all(['kysely', 'zod', '@hono/zod-openapi', 'postgres', 'kysely-postgres-js'].map((m) => import(m)));
