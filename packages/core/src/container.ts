import 'reflect-metadata';
import { container as rootContainer, type DependencyContainer, type InjectionToken } from 'tsyringe';
import type { Logger } from './logger.js';
import type { ProviderRegistry } from './provider-registry.js';

/** A clock that tests can replace; budgets, rate limits and caches read time through it. */
export interface Clock {
  /** Wall-clock milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/**
 * Tokens of the services every gateway registers. Registration is by token with explicit values or
 * factories: the test and build tools in use emit no decorator metadata, so constructor injection by type
 * is not available and not relied on.
 */
export const Tokens = {
  Logger: Symbol.for('switchyard.Logger') as InjectionToken<Logger>,
  Clock: Symbol.for('switchyard.Clock') as InjectionToken<Clock>,
  ProviderRegistry: Symbol.for('switchyard.ProviderRegistry') as InjectionToken<ProviderRegistry>,
} as const;

/** One container per gateway, so two gateways in one process never share services by accident. */
export function createGatewayContainer(
  services: { logger: Logger; clock: Clock; providers: ProviderRegistry },
  parent: DependencyContainer = rootContainer,
): DependencyContainer {
  const container = parent.createChildContainer();
  container.register(Tokens.Logger, { useValue: services.logger });
  container.register(Tokens.Clock, { useValue: services.clock });
  container.register(Tokens.ProviderRegistry, { useValue: services.providers });
  return container;
}
