export { type AzureOpenAIOptions, createAzureOpenAI, defaultAzureApiVersion } from './azure-provider.js';
export { extractAzureError } from './azure-error.js';
