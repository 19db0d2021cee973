export {
  type BillingOptions,
  type BillingPlugin,
  type BillingRequestState,
  type BillingStoreOption,
  BillingTokens,
  createBillingPlugin,
} from './billing-plugin.js';
export {
  completionTexts,
  maxOutputTokens,
  nonTextPartTokens,
  promptTexts,
  promptTokensUpperBound,
  type TokenCounter,
  WorkerTokenCounter,
} from './estimate.js';
export { KeyService, type KeyRejection, type KeyServiceOptions } from './key-service.js';
export { constantTimeEqual, credentialFrom, displayPrefix, generateKey, hashKey, isVirtualKeyFormat, keyPrefix } from './keys.js';
export { LedgerWriter, type LedgerWriterOptions } from './ledger-writer.js';
export { type BudgetPeriod, budgetPeriods, periodEnd, periodStart } from './periods.js';
export {
  type CatalogFactsShape,
  type ConfiguredPrice,
  costOf,
  exportLiteLLMPrice,
  formatUsd,
  importLiteLLMPrices,
  type ModelPrice,
  PriceBook,
  type PricedModel,
  type PriceLookup,
  priceFromCatalog,
  priceFromConfig,
  type PriceTier,
  ratesAt,
  roundUsd,
  type UsageBreakdown,
  usageBreakdown,
  worstCaseCost,
} from './prices.js';
export {
  BillingStore,
  type KeyBalance,
  type KeyPatch,
  type KeyWithBalance,
  type LedgerOutcome,
  type LedgerRow,
  type NewKeyRecord,
  type RequestsQuery,
  type UsageGroupBy,
  type UsageQuery,
  type UsageReport,
  type UsageReportRow,
  type VirtualKey,
} from './store/billing-store.js';
export { openPGlite } from './store/pglite-client.js';
export { describeConnectionString, openPostgres, type PostgresClientOptions } from './store/postgres-client.js';
export type { SqlClient, SqlQueryable, SqlQueryOptions } from './store/sql-client.js';
