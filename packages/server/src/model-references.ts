import { ProviderRegistry } from '@switchyard/core';
import type { ConfigIssue, GatewayConfig } from './config-schema.js';
import { createProviders } from './providers.js';

/**
 * Model names the configuration points at that no configured provider serves: alias targets, fallback
 * group targets, the semantic cache's embedding model. A gateway starts with these (fallback refuses
 * its groups at startup), but `check-config` reports them before a deployment does.
 */
export function checkModelReferences(config: GatewayConfig): ConfigIssue[] {
  const { providers } = createProviders(config);
  try {
    const registry = new ProviderRegistry(providers, config.aliases);
    const issues: ConfigIssue[] = [];
    const serves = (model: string) => registry.tryResolve(registry.aliases().get(model) ?? model) !== undefined;
    for (const [alias, model] of Object.entries(config.aliases)) {
      if (!serves(model)) issues.push({ path: `aliases.${alias}`, message: `no configured provider serves '${model}'` });
    }
    for (const [name, group] of Object.entries(config.fallback.groups)) {
      group.targets.forEach((target, index) => {
        if (!serves(target.model)) issues.push({ path: `fallback.groups.${name}.targets[${index}].model`, message: `no configured provider serves '${target.model}'` });
      });
    }
    const { semantic } = config.cache;
    if (config.cache.store !== 'off' && semantic.enabled && semantic.embedder !== 'local' && !serves(semantic.embedder)) {
      issues.push({ path: 'cache.semantic.embedder', message: `no configured provider serves '${semantic.embedder}' (use 'local' or provider/model)` });
    }
    return issues;
  } finally {
    for (const provider of providers) void provider.close?.();
  }
}
