/** The mock OpenAI upstream as its own process. */
import { startBenchUpstream, type MockUpstreamOptions } from '../lib/mock-upstream.js';
import { readTargetOptions, serveTarget } from '../lib/target-process.js';

await serveTarget(() => startBenchUpstream(readTargetOptions<MockUpstreamOptions>()));
