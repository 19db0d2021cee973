export { createObservabilityPlugin, type ObservabilityOptions, type ObservabilityPlugin } from './observability-plugin.js';
