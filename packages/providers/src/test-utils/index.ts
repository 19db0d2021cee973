/** Test helpers for workspace packages; resolved only under the `@switchyard/source` condition, never published. */
export { type MockHandler, type MockUpstream, type RecordedRequest, sendJson, startMockUpstream, writeEventStream } from './mock-upstream.js';
export { loadOpenAISchemaValidators, type OpenAISchemaValidators, sharedFixturesDir } from './openai-schema.js';
