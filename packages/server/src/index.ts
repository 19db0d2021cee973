export {
  billingOptions,
  billingStoreOf,
  type BuildOptions,
  buildGateway,
  type BuiltGateway,
  cacheOptions,
  catalogModelFacts,
  catalogPrice,
  checkModelReferences,
  type ConfiguredProviders,
  createPlugins,
  createProvider,
  createProviders,
  type GatewayPlugins,
  pluginList,
  providerIds,
  rateLimitOptions,
  rateLimitStoreOf,
} from './build-gateway.js';
export { type ClusterOptions, clusterErrors, clusterWarnings, runClusterPrimary } from './cluster.js';
export { type Environment, interpolateEnvironment, parseConfigText, readConfigFile } from './config-file.js';
export {
  type ConfigIssue,
  ConfigError,
  defaultProviderId,
  formatConfigPath,
  type GatewayConfig,
  type GatewayConfigInput,
  gatewayConfigSchema,
  logLevels,
  parseGatewayConfig,
  type ProviderConfig,
  providerIdOf,
  providerSchema,
  type ProviderType,
  providerTypes,
  suggestField,
} from './config-schema.js';
export {
  type ConfigOverrides,
  configInputFromEnvironment,
  type LoadedConfig,
  loadConfig,
  mergeConfigInputs,
  presetVariablePrefixes,
  workerCount,
} from './environment.js';
export {
  handleShutdown,
  type ShutdownHandle,
  shutdownMessage,
  type ShutdownOptions,
  type StartedServer,
  type StartOptions,
  startServer,
  startupWarnings,
} from './server.js';
export { describeConfig } from './summary.js';
