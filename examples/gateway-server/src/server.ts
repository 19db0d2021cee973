import { createGateway, type Gateway, type Logger } from '@switchyard/core';
import { createFallbackPlugin } from '@switchyard/plugin-fallback';
import { configFromEnvironment } from './config.js';

export interface StartedServer {
  gateway: Gateway;
  url: string;
  close(): Promise<void>;
}

/** Builds and starts the gateway described by the environment. */
export async function startServer(environment: Record<string, string | undefined> = process.env, logger?: Logger): Promise<StartedServer> {
  const config = configFromEnvironment(environment);
  const gateway = createGateway({
    providers: config.providers,
    aliases: config.aliases,
    // Retries and fallback wrap every upstream call; groups and routes come from SWITCHYARD_CONFIG.
    plugins: [createFallbackPlugin(config.fallback)],
    logger,
  });
  const { url } = await gateway.listen(config.port, config.host);
  if (config.demo) {
    gateway.logger.warn('no provider key configured: serving only the built-in demo/echo model, which answers locally by repeating your message');
  }
  gateway.logger.info({ url, providers: config.providers.map((provider) => provider.id) }, `Switchyard gateway ready at ${url}/v1`);
  return { gateway, url, close: () => gateway.close() };
}
