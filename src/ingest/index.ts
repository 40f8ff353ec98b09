export { ingestBaskets, type BasketInput, type IngestOutcome } from './ingest-baskets.ts';
export { ingestRoutes } from './routes.ts';
export * from './schemas.ts';
