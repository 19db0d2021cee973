import { createDefaultLogger, type Gateway, type Logger } from '@switchyard/core';
import type { BillingPlugin } from '@switchyard/plugin-billing';
import { buildGateway, type GatewayPlugins, pluginList } from './build-gateway.js';
import { shutdownMessage } from './cluster.js';
import { shareWorkerMetrics } from './cluster-metrics.js';
import type { Environment } from './config-file.js';
import type { GatewayConfig } from './config-schema.js';
import { type ConfigOverrides, loadConfig } from './environment.js';
import { startupWarnings } from './summary.js';

export interface StartedServer {
  gateway: Gateway;
  config: GatewayConfig;
  plugins: GatewayPlugins;
  /** Keys, prices and the usage ledger, when billing is on. */
  billing: BillingPlugin | undefined;
  /** `http://host:port`, without `/v1`. */
  url: string;
  /** True when no provider is configured and only the built-in `demo/echo` model is served. */
  demo: boolean;
  /** Stops accepting, drains in-flight requests and streams (up to `server.drainTimeoutMs`), closes plugins. */
  close(): Promise<void>;
}

export interface StartOptions extends ConfigOverrides {
  /** Log the demo-mode and development-mode warnings. Default true; cluster workers leave them to the primary. */
  announce?: boolean;
  /** Added to every log line, e.g. `{ worker: 2 }` in cluster mode. */
  logBindings?: Record<string, unknown>;
  /** A cluster worker: share this worker's metrics with the primary and serve the cluster's on `/metrics`. */
  clusterMetrics?: boolean;
}

/**
 * Builds and starts the gateway described by the config file (`SWITCHYARD_CONFIG`) and the environment,
 * and logs one ready line with its URL and providers.
 */
export async function startServer(environment: Environment = process.env, logger?: Logger, options: StartOptions = {}): Promise<StartedServer> {
  const { config, configPath } = loadConfig(environment, options);
  const baseLogger = logger ?? createDefaultLogger(config.server.logLevel);
  const serverLogger = options.logBindings ? baseLogger.child(options.logBindings) : baseLogger;
  const { gateway, plugins, demo } = buildGateway(config, { logger: serverLogger, clusterMetrics: options.clusterMetrics });
  const stopSharing = options.clusterMetrics ? shareWorkerMetrics(plugins.observability.registry) : undefined;
  let url: string;
  try {
    ({ url } = await gateway.listen(config.server.port, config.server.host));
  } catch (error) {
    // Plugins that did start (database pools, Redis clients) are closed so the process can exit.
    stopSharing?.();
    await gateway.close().catch(() => {});
    throw error;
  }
  if (options.announce ?? true) for (const warning of startupWarnings(config, demo)) gateway.logger.warn(warning);
  const providers = gateway.providers.list().map((provider) => provider.id);
  gateway.logger.info(
    { url, providers, config: configPath, plugins: pluginList(plugins).map((plugin) => plugin.name) },
    `Switchyard gateway ready at ${url}/v1 (providers: ${providers.join(', ')})`,
  );
  return {
    gateway,
    config,
    plugins,
    billing: plugins.billing,
    url,
    demo,
    close: () => {
      stopSharing?.();
      return gateway.close();
    },
  };
}

export interface ShutdownOptions {
  /** Default SIGTERM and SIGINT. */
  signals?: readonly NodeJS.Signals[];
  /** Default `process.exit`. */
  exit?: (code: number) => void;
  /**
   * How long past the drain deadline shutdown may take (closing plugins: the ledger's last flush, spilling
   * unwritten rows) before the process exits with 1 anyway. Default 15 s.
   */
  graceMs?: number;
  /** Also shut down on a `{ type: 'switchyard:shutdown' }` IPC message and when the IPC channel closes (cluster workers). */
  listenToParent?: boolean;
}

export interface ShutdownHandle {
  /** Starts the graceful shutdown, as a signal would. */
  shutdown(reason: string): void;
  /** Removes the signal and IPC listeners. */
  dispose(): void;
}

/**
 * Graceful shutdown on SIGTERM and SIGINT: stop accepting connections, let in-flight requests and streams
 * finish up to `server.drainTimeoutMs`, close the plugins (the billing ledger's final flush), exit 0.
 * A second signal exits at once with 1, for an operator who does not want to wait.
 */
export function handleShutdown(server: StartedServer, options: ShutdownOptions = {}): ShutdownHandle {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const logger = server.gateway.logger;
  const drainTimeoutMs = server.config.server.drainTimeoutMs;
  let stopping = false;

  const shutdown = (reason: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason, drainTimeoutMs }, `shutting down (${reason}): no new connections, draining in-flight requests for up to ${drainTimeoutMs} ms`);
    const force = setTimeout(() => {
      logger.error('shutdown did not finish in time: exiting');
      exit(1);
    }, drainTimeoutMs + (options.graceMs ?? 15_000));
    force.unref();
    server.close().then(
      () => {
        clearTimeout(force);
        logger.info('shutdown complete');
        exit(0);
      },
      (error: unknown) => {
        clearTimeout(force);
        logger.error({ err: error }, 'shutdown failed');
        exit(1);
      },
    );
  };

  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without waiting for in-flight requests');
      exit(1);
      return;
    }
    shutdown(signal);
  };
  const onMessage = (message: unknown) => {
    if ((message as { type?: unknown } | null)?.type === shutdownMessage.type) shutdown('asked by the cluster primary');
  };
  const onDisconnect = () => shutdown('the cluster primary is gone');

  for (const signal of signals) process.on(signal, onSignal);
  if (options.listenToParent) {
    process.on('message', onMessage);
    process.on('disconnect', onDisconnect);
  }
  return {
    shutdown,
    dispose() {
      for (const signal of signals) process.off(signal, onSignal);
      process.off('message', onMessage);
      process.off('disconnect', onDisconnect);
    },
  };
}
