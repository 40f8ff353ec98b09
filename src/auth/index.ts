export { authenticateKey, createApiKey, listApiKeys, revokeApiKey } from './api-keys.ts';
export { authRoutes } from './routes.ts';
export * from './schemas.ts';
