import type Router from '@koa/router';
import type { DependencyContainer } from 'tsyringe';
import type { PluginHooks } from './hooks.js';
import type { Logger } from './logger.js';
import type { ProviderRegistry } from './provider-registry.js';

/** What a plugin receives in `setup`. */
export interface PluginSetupApi {
  /** A child container of the gateway's: register this plugin's services here, resolve shared ones. */
  container: DependencyContainer;
  /** The gateway's router, for plugins that serve their own endpoints (e.g. an admin API). */
  router: Router;
  logger: Logger;
  providers: ProviderRegistry;
}

export interface Plugin extends PluginHooks {
  /** Unique name; other plugins name it in `dependencies`. */
  name: string;
  /** Plugins that must be registered before this one. */
  dependencies?: readonly string[];
  setup?(api: PluginSetupApi): void | Promise<void>;
}

/** Identity function that gives a plugin object its type: `export const myPlugin = definePlugin({...})`. */
export function definePlugin<P extends Plugin>(plugin: P): P {
  return plugin;
}

export type PluginErrorCode =
  | 'SWITCHYARD_PLUGIN_INVALID'
  | 'SWITCHYARD_PLUGIN_DUPLICATE'
  | 'SWITCHYARD_PLUGIN_DEPENDENCY_MISSING';

/** Thrown at gateway creation when the plugin list cannot work; `code` says why. */
export class PluginRegistrationError extends Error {
  readonly code: PluginErrorCode;
  readonly plugin: string;

  constructor(code: PluginErrorCode, plugin: string, message: string) {
    super(message);
    this.name = 'PluginRegistrationError';
    this.code = code;
    this.plugin = plugin;
  }
}

/**
 * Checks names and dependencies. Order matters: hooks run in registration order, so a plugin must come
 * after the ones it depends on (billing reads the key that auth put on the state, for instance).
 */
export function checkPlugins(plugins: readonly Plugin[]): void {
  const seen = new Set<string>();
  for (const plugin of plugins) {
    if (typeof plugin !== 'object' || plugin === null || typeof plugin.name !== 'string' || plugin.name === '') {
      throw new PluginRegistrationError('SWITCHYARD_PLUGIN_INVALID', String((plugin as Plugin | null)?.name), 'A plugin must be an object with a non-empty name.');
    }
    if (seen.has(plugin.name)) {
      throw new PluginRegistrationError('SWITCHYARD_PLUGIN_DUPLICATE', plugin.name, `Plugin '${plugin.name}' is registered twice.`);
    }
    for (const dependency of plugin.dependencies ?? []) {
      if (!seen.has(dependency)) {
        const registeredLater = plugins.some((other) => other.name === dependency);
        throw new PluginRegistrationError(
          'SWITCHYARD_PLUGIN_DEPENDENCY_MISSING',
          plugin.name,
          registeredLater
            ? `Plugin '${plugin.name}' depends on '${dependency}', which must be registered before it.`
            : `Plugin '${plugin.name}' depends on '${dependency}', which is not registered.`,
        );
      }
    }
    seen.add(plugin.name);
  }
}
