import { describe, expect, it } from 'vitest';
import { fakeProvider } from './__fixtures__/fakes.js';
import { createGateway } from './gateway.js';
import { silentLogger } from './logger.js';
import { checkPlugins, definePlugin, type Plugin, PluginRegistrationError } from './plugin.js';

function registrationError(plugins: unknown[]): PluginRegistrationError {
  try {
    createGateway({ providers: [fakeProvider('alpha')], plugins: plugins as Plugin[], logger: silentLogger });
  } catch (error) {
    expect(error).toBeInstanceOf(PluginRegistrationError);
    return error as PluginRegistrationError;
  }
  throw new Error('createGateway accepted the plugins');
}

describe('plugin registration', () => {
  it('accepts plugins registered after their dependencies', () => {
    expect(() => checkPlugins([{ name: 'auth' }, { name: 'billing', dependencies: ['auth'] }])).not.toThrow();
    const plugin = definePlugin({ name: 'typed', extra: 1 });
    expect(plugin.extra).toBe(1);
  });

  it('refuses a name registered twice', () => {
    const error = registrationError([{ name: 'cache' }, { name: 'cache' }]);
    expect(error.code).toBe('SWITCHYARD_PLUGIN_DUPLICATE');
    expect(error.plugin).toBe('cache');
    expect(error.name).toBe('PluginRegistrationError');
  });

  it('refuses a dependency that is not registered', () => {
    const error = registrationError([{ name: 'billing', dependencies: ['auth'] }]);
    expect(error.code).toBe('SWITCHYARD_PLUGIN_DEPENDENCY_MISSING');
    expect(error.plugin).toBe('billing');
    expect(error.message).toMatch(/not registered/);
  });

  it('refuses a dependency registered after the plugin that needs it, saying so', () => {
    const error = registrationError([{ name: 'billing', dependencies: ['auth'] }, { name: 'auth' }]);
    expect(error.code).toBe('SWITCHYARD_PLUGIN_DEPENDENCY_MISSING');
    expect(error.message).toMatch(/must be registered before it/);
  });

  it('refuses something that is not a named plugin', () => {
    for (const invalid of [null, 'auth', {}, { name: '' }, { name: 42 }]) {
      expect(registrationError([invalid]).code).toBe('SWITCHYARD_PLUGIN_INVALID');
    }
  });
});
