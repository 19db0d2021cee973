#!/usr/bin/env node
import cluster from 'node:cluster';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import type { ConfigIssue } from './config-schema.js';
import type { ConfigOverrides, LoadedConfig } from './environment.js';

/*
 * Modules are imported by the command that needs them: `--help` answers at once, `check-config` loads
 * the configuration code but none of the plugins' runtimes, `serve` loads everything.
 */

const help = `switchyard: one OpenAI-compatible endpoint in front of every model provider

Usage:
  switchyard serve [--config <file>] [--port <n>] [--host <address>] [--workers <n|auto>]
  switchyard check-config [<file>]
  switchyard --help | --version

Commands:
  serve          Start the gateway. The config file (YAML or JSON) is read first; environment
                 variables fill in what it leaves unset; these options win over both.
  check-config   Validate a config file (default: SWITCHYARD_CONFIG) together with the environment,
                 print "ok" and a summary, or every error with the path of the bad field (exit 1).

Options:
  -c, --config <file>     config file (default: SWITCHYARD_CONFIG)
  -p, --port <n>          port to listen on (default 8787; 0 picks a free one)
      --host <address>    address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)
  -w, --workers <n|auto>  worker processes sharing the port (auto: one per CPU core)
  -h, --help              show this help
  -v, --version           show the version

Without any provider configured the built-in demo/echo model is served. Environment variables
(OPENAI_API_KEY, ANTHROPIC_API_KEY, REDIS_URL, SWITCHYARD_MASTER_KEY, …) are listed in the README.
`;

function version(): string {
  // ../package.json from both src/cli.ts and dist/cli.js: the package root.
  return (createRequire(import.meta.url)('../package.json') as { version: string }).version;
}

class UsageError extends Error {}

function parseCommandLine(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: 'string', short: 'c' },
        port: { type: 'string', short: 'p' },
        host: { type: 'string' },
        workers: { type: 'string', short: 'w' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function overridesFrom(values: ReturnType<typeof parseCommandLine>['values']): ConfigOverrides {
  const overrides: ConfigOverrides = {};
  if (values.config !== undefined) overrides.configPath = values.config;
  if (values.host !== undefined) overrides.host = values.host;
  if (values.port !== undefined) {
    const port = Number(values.port);
    if (!/^\d+$/.test(values.port) || port > 65_535) throw new UsageError(`--port must be an integer from 0 to 65535, got '${values.port}'`);
    overrides.port = port;
  }
  if (values.workers !== undefined) {
    if (values.workers === 'auto') overrides.workers = 'auto';
    else if (/^\d+$/.test(values.workers) && Number(values.workers) >= 1) overrides.workers = Number(values.workers);
    else throw new UsageError(`--workers must be a positive integer or 'auto', got '${values.workers}'`);
  }
  return overrides;
}

/** A ConfigError, recognised by shape so the error path needs no import. */
function isConfigError(error: unknown): error is Error & { issues: readonly ConfigIssue[] } {
  return error instanceof Error && error.name === 'ConfigError' && Array.isArray((error as { issues?: unknown }).issues);
}

function printConfigError(error: { issues: readonly ConfigIssue[] }, source: string | undefined): void {
  const count = error.issues.length;
  process.stderr.write(`${source ?? 'configuration'}: ${count} problem${count === 1 ? '' : 's'}\n`);
  for (const issue of error.issues) process.stderr.write(`  ${issue.path}: ${issue.message}\n`);
}

async function checkConfig(positionals: string[], overrides: ConfigOverrides): Promise<number> {
  if (positionals.length > 1) throw new UsageError('check-config takes one file');
  const [{ loadConfig, workerCount }, { checkModelReferences }, { clusterErrors, clusterWarnings }, { describeConfig, startupWarnings }] = await Promise.all([
    import('./environment.js'),
    import('./model-references.js'),
    import('./cluster.js'),
    import('./summary.js'),
  ]);
  const configPath = positionals[0] ?? overrides.configPath;
  let loaded: LoadedConfig;
  try {
    loaded = loadConfig(process.env, { ...overrides, configPath });
  } catch (error) {
    if (!isConfigError(error)) throw error;
    printConfigError(error, configPath ?? process.env.SWITCHYARD_CONFIG);
    return 1;
  }
  const source = loaded.configPath ?? 'environment variables';
  const workers = workerCount(loaded.config.cluster.workers);
  const issues = [...checkModelReferences(loaded.config), ...clusterErrors(loaded.config, workers).map((message) => ({ path: 'cluster.workers', message }))];
  if (issues.length > 0) {
    printConfigError({ issues }, source);
    return 1;
  }
  process.stdout.write(`ok: ${source}\n`);
  for (const line of describeConfig(loaded)) process.stdout.write(`${line}\n`);
  for (const warning of [...startupWarnings(loaded.config, loaded.config.providers.length === 0), ...clusterWarnings(loaded.config, workers)]) {
    process.stdout.write(`warning: ${warning}\n`);
  }
  return 0;
}

/** A cluster worker: serves, drains when the primary asks or on SIGTERM. */
async function serveAsWorker(overrides: ConfigOverrides): Promise<void> {
  // Ctrl-C reaches every process of the terminal's group; the primary coordinates the shutdown.
  process.on('SIGINT', () => {});
  const { handleShutdown, startServer } = await import('./server.js');
  const server = await startServer(process.env, undefined, { ...overrides, announce: false, logBindings: { worker: cluster.worker?.id }, clusterMetrics: true });
  handleShutdown(server, { signals: ['SIGTERM'], listenToParent: true });
}

async function serve(overrides: ConfigOverrides): Promise<number | undefined> {
  if (cluster.isWorker) {
    await serveAsWorker(overrides);
    return undefined;
  }
  const { loadConfig, workerCount } = await import('./environment.js');
  let loaded: LoadedConfig;
  try {
    loaded = loadConfig(process.env, overrides);
  } catch (error) {
    if (!isConfigError(error)) throw error;
    printConfigError(error, overrides.configPath ?? process.env.SWITCHYARD_CONFIG);
    return 1;
  }
  const { config } = loaded;
  const workers = workerCount(config.cluster.workers);
  if (workers <= 1) {
    const { handleShutdown, startServer } = await import('./server.js');
    const server = await startServer(process.env, undefined, overrides);
    handleShutdown(server);
    return undefined;
  }
  // The primary forks and watches; it never builds a gateway, so it holds no provider, Redis or database connection.
  const [{ clusterErrors, clusterWarnings, runClusterPrimary }, { serveClusterMetrics }, { startupWarnings }, { createDefaultLogger }] = await Promise.all([
    import('./cluster.js'),
    import('./cluster-metrics.js'),
    import('./summary.js'),
    import('@switchyard/core'),
  ]);
  const errors = clusterErrors(config, workers);
  if (errors.length > 0) {
    printConfigError({ issues: errors.map((message) => ({ path: 'cluster.workers', message })) }, loaded.configPath);
    return 1;
  }
  const logger = createDefaultLogger(config.server.logLevel).child({ cluster: 'primary' });
  for (const warning of [...startupWarnings(config, config.providers.length === 0), ...clusterWarnings(config, workers)]) logger.warn(warning);
  logger.info({ workers }, `starting ${workers} workers`);
  serveClusterMetrics();
  runClusterPrimary({ workers, logger, drainTimeoutMs: config.server.drainTimeoutMs });
  return undefined;
}

async function main(argv: string[]): Promise<number | undefined> {
  const { values, positionals } = parseCommandLine(argv);
  if (values.version) {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const [command, ...rest] = positionals;
  if (values.help || command === 'help') {
    process.stdout.write(help);
    return 0;
  }
  const overrides = overridesFrom(values);
  switch (command) {
    case 'serve':
      if (rest.length > 0) throw new UsageError(`serve takes no arguments (got '${rest.join(' ')}'); name the config file with --config`);
      return serve(overrides);
    case 'check-config':
      return await checkConfig(rest, overrides);
    case undefined:
      process.stderr.write(help);
      return 2;
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

// Exits explicitly: a cluster worker's IPC channel or a half-started plugin would otherwise keep the process alive.
main(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exit(code);
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`switchyard: ${error.message}\nRun 'switchyard --help' for usage.\n`);
      process.exit(2);
    } else if (isConfigError(error)) {
      printConfigError(error, undefined);
      process.exit(1);
    } else if (typeof (error as { code?: unknown })?.code === 'string') {
      // A system error (port taken, file not found) says all there is to say in its message.
      process.stderr.write(`switchyard: cannot start: ${(error as Error).message}\n`);
      process.exit(1);
    } else {
      process.stderr.write(`switchyard: ${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    }
  },
);
