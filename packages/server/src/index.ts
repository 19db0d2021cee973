export { type BuildOptions, buildGateway, type BuiltGateway, createPlugins, type GatewayPlugins, pluginList } from './build-gateway.js';
export { checkModelReferences } from './model-references.js';
export { type ConfiguredProviders, createProvider, createProviders, providerIds } from './providers.js';
export { billingOptions, billingStoreOf, cacheOptions, catalogModelFacts, catalogPrice, rateLimitOptions, rateLimitStoreOf } from './plugin-options.js';
export { type MetricsSource, requestClusterMetrics, serveClusterMetrics, shareWorkerMetrics } from './cluster-metrics.js';
export { type ClusterOptions, clusterErrors, clusterWarnings, runClusterPrimary, shutdownMessage } from './cluster.js';
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
  type ShutdownOptions,
  type StartedServer,
  type StartOptions,
  startServer,
} from './server.js';
export { describeConfig, startupWarnings } from './summary.js';
