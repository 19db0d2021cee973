import type { Target } from './context.js';
import { GatewayError } from './errors.js';
import { isProvider, type ProviderV1 } from './provider.js';

/**
 * The providers a gateway serves and how model names map onto them.
 *
 * Resolution order for a requested name:
 *   1. a configured alias (`fast` → `openai/gpt-4o-mini`), followed once;
 *   2. `provider/model`, split at the first slash, when `provider` is registered
 *      (`openrouter/anthropic/claude-sonnet-4.5` → provider `openrouter`, model `anthropic/claude-sonnet-4.5`);
 *   3. a bare name matching a provider's declared prefix (`claude-…` → anthropic), first registered wins.
 */
export class ProviderRegistry {
  readonly #providers = new Map<string, ProviderV1>();
  readonly #aliases = new Map<string, string>();

  constructor(providers: readonly ProviderV1[] = [], aliases: Record<string, string> = {}) {
    for (const provider of providers) this.register(provider);
    for (const [alias, model] of Object.entries(aliases)) this.setAlias(alias, model);
  }

  register(provider: ProviderV1): void {
    if (!isProvider(provider)) {
      const version = (provider as { specificationVersion?: unknown } | null)?.specificationVersion;
      throw new TypeError(
        version !== undefined && version !== 'v1'
          ? `Provider specification version '${String(version)}' is not supported; this gateway speaks 'v1'.`
          : 'A provider must have specificationVersion "v1", an id and a chat() function.',
      );
    }
    if (provider.id.includes('/')) throw new TypeError(`Provider id '${provider.id}' must not contain '/'.`);
    if (this.#providers.has(provider.id)) throw new TypeError(`Provider '${provider.id}' is registered twice.`);
    this.#providers.set(provider.id, provider);
  }

  setAlias(alias: string, model: string): void {
    this.#aliases.set(alias, model);
  }

  get(id: string): ProviderV1 | undefined {
    return this.#providers.get(id);
  }

  list(): ProviderV1[] {
    return [...this.#providers.values()];
  }

  aliases(): ReadonlyMap<string, string> {
    return this.#aliases;
  }

  /** Returns the target for a model name, or throws a 404 `model_not_found`. */
  resolve(requested: string): Target {
    const target = this.tryResolve(this.#aliases.get(requested) ?? requested);
    if (!target) throw GatewayError.modelNotFound(requested);
    return target;
  }

  tryResolve(name: string): Target | undefined {
    const slash = name.indexOf('/');
    if (slash > 0) {
      const provider = this.#providers.get(name.slice(0, slash));
      const modelId = name.slice(slash + 1);
      if (provider && modelId !== '') return { provider, modelId, model: name };
    }
    for (const provider of this.#providers.values()) {
      if (provider.modelPrefixes?.some((prefix) => name.startsWith(prefix))) {
        return { provider, modelId: name, model: `${provider.id}/${name}` };
      }
    }
    return undefined;
  }
}
