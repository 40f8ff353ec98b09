/**
 * Synthetic grocery chain with known ground truth (demo data, statistical tests, benchmarks).
 * Pure domain code: no runtime imports, so it runs on Node and on Workers alike.
 */
export { generateChain } from './generate.ts';
export type {
  CsvOptions,
  MemberRange,
  SimBasketLine,
  SimChain,
  SimMemberCategoryTruthRow,
  SimMemberProductTruthRow,
  SimMemberTruthRow,
} from './generate.ts';
export type { SimOptions } from './world.ts';
export type { SimStore } from './stores.ts';
export {
  gtinCheckDigit,
  isValidGtin,
  STORE_BRAND,
  STORE_MANUFACTURER_ID,
  type BrandType,
  type HouseholdNeed,
  type PriceChange,
  type SimCategory,
  type SimManufacturer,
  type SimProduct,
} from './catalogue.ts';
export {
  cardNumber,
  luhnCheckDigit,
  memberNumber,
  type BrandPref,
  type MemberCategoryTruth,
  type MemberProductTruth,
  type MemberTruth,
  type SimMember,
  type VolumeLevel,
} from './members.ts';
export type { MemberSim, SimOffer, SimVisit, SimVisitLine } from './behaviour.ts';
export {
  offerRedemptionProbability,
  type OfferResponse,
  type OfferTerms,
} from './offer-response.ts';
export {
  BASKETS_CSV_COLUMNS,
  MEMBERS_CSV_COLUMNS,
  PRODUCTS_CSV_COLUMNS,
  csvChunks,
  csvField,
  csvLine,
  type CsvValue,
} from './csv.ts';
export { formatDate, parseDate } from './calendar.ts';
export { Rng } from './rng.ts';
export { loadSimChain, type LoadProgress, type LoadSummary } from './load-chain.ts';
