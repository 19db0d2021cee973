import type { ProviderV1 } from '@switchyard/core';
import { createAnthropic, createAzureOpenAI, createEchoProvider, createFromPreset, createGemini, createOpenAICompatible } from '@switchyard/providers';
import { type ConfigIssue, ConfigError, type GatewayConfig, type ProviderConfig, providerIdOf } from './config-schema.js';
import { defined } from './plugin-options.js';

/** Creates the provider one `providers[]` entry describes. */
export function createProvider(spec: ProviderConfig): ProviderV1 {
  const connection = defined({
    connectTimeoutMs: 'connectTimeoutMs' in spec ? spec.connectTimeoutMs : undefined,
    firstByteTimeoutMs: 'firstByteTimeoutMs' in spec ? spec.firstByteTimeoutMs : undefined,
    idleTimeoutMs: 'idleTimeoutMs' in spec ? spec.idleTimeoutMs : undefined,
    connections: 'connections' in spec ? spec.connections : undefined,
  });
  switch (spec.type) {
    case 'echo':
      return createEchoProvider(defined({ id: spec.id, chunkDelayMs: spec.chunkDelayMs }));
    case 'openai-compatible':
      return createOpenAICompatible(
        defined({ ...connection, id: spec.id, baseURL: spec.baseURL, apiKey: spec.apiKey, headers: spec.headers, modelPrefixes: spec.modelPrefixes, models: spec.models, streamUsage: spec.streamUsage, catalogProvider: spec.catalogProvider }),
      );
    case 'ollama':
      return createFromPreset('ollama', defined({ ...connection, id: spec.id, apiKey: spec.apiKey, baseURL: spec.baseURL, headers: spec.headers, modelPrefixes: spec.modelPrefixes, models: spec.models }));
    case 'anthropic':
      return withModelPrefixes(
        createAnthropic(defined({ ...connection, id: spec.id, apiKey: spec.apiKey, baseURL: spec.baseURL, headers: spec.headers, models: spec.models, version: spec.version, defaultMaxTokens: spec.defaultMaxTokens })),
        spec.modelPrefixes,
      );
    case 'gemini':
      return createGemini(defined({ ...connection, id: spec.id, apiKey: spec.apiKey, baseURL: spec.baseURL, headers: spec.headers, modelPrefixes: spec.modelPrefixes, models: spec.models }));
    case 'azure':
      return withModelPrefixes(
        createAzureOpenAI(
          defined({ ...connection, id: spec.id, apiKey: spec.apiKey, endpoint: spec.endpoint, resourceName: spec.resourceName, apiVersion: spec.apiVersion, deployments: spec.deployments, headers: spec.headers, streamUsage: spec.streamUsage }),
        ),
        spec.modelPrefixes,
      );
    default:
      return createFromPreset(
        spec.type,
        defined({ ...connection, id: spec.id, apiKey: spec.apiKey, baseURL: spec.baseURL, headers: spec.headers, modelPrefixes: spec.modelPrefixes, models: spec.models, streamUsage: spec.streamUsage }),
      );
  }
}

/** Anthropic and Azure fix their bare-name prefixes; a configured list replaces them on the provider object. */
function withModelPrefixes(provider: ProviderV1, modelPrefixes: readonly string[] | undefined): ProviderV1 {
  return modelPrefixes === undefined ? provider : { ...provider, modelPrefixes };
}

export interface ConfiguredProviders {
  providers: ProviderV1[];
  /** True when nothing was configured and the built-in `demo/echo` model is served instead. */
  demo: boolean;
}

/** The configured providers, or the built-in demo/echo model when there are none. */
export function createProviders(config: GatewayConfig): ConfiguredProviders {
  const issues: ConfigIssue[] = [];
  const providers: ProviderV1[] = [];
  config.providers.forEach((spec, index) => {
    try {
      providers.push(createProvider(spec));
    } catch (error) {
      issues.push({ path: `providers[${index}]`, message: (error as Error).message });
    }
  });
  if (issues.length > 0) {
    for (const provider of providers) void provider.close?.();
    throw new ConfigError(issues);
  }
  if (providers.length > 0) return { providers, demo: false };
  return { providers: [createEchoProvider()], demo: true };
}

/** The ids of the providers a configuration serves, in order (`demo` when none is configured). */
export function providerIds(config: GatewayConfig): string[] {
  return config.providers.length > 0 ? config.providers.map(providerIdOf) : ['demo'];
}
