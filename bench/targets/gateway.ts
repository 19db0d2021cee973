/**
 * The gateway under test: `createGateway` with one OpenAI-compatible provider pointing at the mock
 * upstream, served by the gateway's own `listen`. Scenarios that measure plugins pass their names in
 * `plugins` once those scenarios exist; the foundation scenario runs with none.
 */
import { createGateway } from '@switchyard/core';
import { createOpenAICompatible } from '@switchyard/providers';
import { readTargetOptions, serveTarget } from '../lib/target-process.js';

export interface GatewayTargetOptions {
  upstreamUrl: string;
  /** Provider id: clients ask for `<providerId>/<model>`. */
  providerId: string;
}

await serveTarget(async () => {
  const options = readTargetOptions<GatewayTargetOptions>();
  const gateway = createGateway({
    providers: [createOpenAICompatible({ id: options.providerId, baseURL: `${options.upstreamUrl}/v1`, apiKey: 'bench' })],
  });
  const { url } = await gateway.listen(0, '127.0.0.1');
  return { url, close: () => gateway.close() };
});
