import { createGateway } from '@switchyard/core';
import { createOpenAI } from '@switchyard/providers';

// One OpenAI-compatible endpoint in front of OpenAI; OPENAI_BASE_URL points it at any compatible server.
const gateway = createGateway({
  providers: [createOpenAI({ apiKey: process.env.OPENAI_API_KEY, baseURL: process.env.OPENAI_BASE_URL })],
});

const { url } = await gateway.listen(Number(process.env.PORT ?? 8787), process.env.HOST);
console.log(`Switchyard listening on ${url}`);

// Let in-flight requests and streams finish before the process exits.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void gateway.close());
