/**
 * One gateway instance in its own process, for tests that need several instances sharing Redis.
 * Arguments come from the environment; prints `READY <url>` once listening.
 */
import { createGateway, silentLogger } from '@switchyard/core';
import { createEchoProvider } from '@switchyard/providers';
import { createRateLimitPlugin } from '../ratelimit-plugin.js';

const gateway = createGateway({
  providers: [createEchoProvider()],
  plugins: [
    createRateLimitPlugin({
      store: { redis: { url: process.env.REDIS_URL!, keyPrefix: process.env.RATE_LIMIT_PREFIX, failurePolicy: (process.env.FAILURE_POLICY as 'open' | 'closed') ?? 'open' } },
      anonymous: { rpm: Number(process.env.RPM) },
    }),
  ],
  logger: silentLogger,
});
const { url } = await gateway.listen(0);
process.stdout.write(`READY ${url}\n`);
process.on('SIGTERM', () => void gateway.close().then(() => process.exit(0)));
