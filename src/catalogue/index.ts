export { catalogueRoutes } from './routes.ts';
export * from './schemas.ts';
export {
  upsertCategories,
  upsertManufacturers,
  upsertMembers,
  upsertProducts,
  upsertStores,
  type RowRejection,
  type UpsertMode,
  type UpsertOutcome,
} from './upsert.ts';
