import { createGateway, type Gateway, type Logger, type Plugin } from '@switchyard/core';
import { type BillingPlugin, createBillingPlugin, priceFromCatalog } from '@switchyard/plugin-billing';
import { findModel } from '@switchyard/providers';
import { createFallbackPlugin } from '@switchyard/plugin-fallback';
import { configFromEnvironment } from './config.js';

export interface StartedServer {
  gateway: Gateway;
  /** Keys, prices and the usage ledger, when billing is on. */
  billing: BillingPlugin | undefined;
  url: string;
  close(): Promise<void>;
}

/** Builds and starts the gateway described by the environment. */
export async function startServer(environment: Record<string, string | undefined> = process.env, logger?: Logger): Promise<StartedServer> {
  const config = configFromEnvironment(environment);
  const plugins: Plugin[] = [];
  const { billing } = config;
  let billingPlugin: BillingPlugin | undefined;
  if (billing.store) {
    // First: it authenticates, and later plugins (rate limits, cache) read the key it puts on the request.
    plugins.push(
      (billingPlugin = createBillingPlugin({
        store: billing.store,
        schema: billing.schema,
        masterKey: billing.masterKey,
        prices: billing.prices,
        litellmPrices: billing.litellmPrices,
        // List prices from the providers' catalog for every model the configuration does not price.
        catalog: (model) => priceFromCatalog(findModel(model.providerId, model.modelId)),
        defaultMaxOutputTokens: billing.defaultMaxOutputTokens,
        ledger: { spillDirectory: billing.spillDirectory },
      })),
    );
  }
  // Retries and fallback wrap every upstream call; groups and routes come from SWITCHYARD_CONFIG.
  plugins.push(createFallbackPlugin(config.fallback));
  const gateway = createGateway({
    providers: config.providers,
    aliases: config.aliases,
    plugins,
    logger,
  });
  const { url } = await gateway.listen(config.port, config.host);
  if (config.demo) {
    gateway.logger.warn('no provider key configured: serving only the built-in demo/echo model, which answers locally by repeating your message');
  }
  if (!billing.masterKey) {
    gateway.logger.warn(
      billing.store
        ? 'dev mode: no SWITCHYARD_MASTER_KEY, so requests without a key are served and the admin API at /admin is open to anyone who can reach this server'
        : 'dev mode: no SWITCHYARD_MASTER_KEY, so requests are not authenticated and usage is not recorded; set SWITCHYARD_MASTER_KEY (and DATABASE_URL or SWITCHYARD_DATA_DIR) to issue keys and bill usage',
    );
  }
  gateway.logger.info({ url, providers: config.providers.map((provider) => provider.id) }, `Switchyard gateway ready at ${url}/v1`);
  return { gateway, billing: billingPlugin, url, close: () => gateway.close() };
}
