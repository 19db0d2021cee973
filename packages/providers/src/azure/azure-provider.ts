import type { ProviderV1 } from '@switchyard/core';
import { createOpenAICompatible, type OpenAICompatibleOptions, type OpenAIEndpoint } from '../openai/openai-provider.js';
import { extractAzureError } from './azure-error.js';

/** The newest generally available data-plane version of Azure OpenAI's deployment API when this was written. */
export const defaultAzureApiVersion = '2024-10-21';

export interface AzureOpenAIOptions
  extends Pick<OpenAICompatibleOptions, 'connectTimeoutMs' | 'firstByteTimeoutMs' | 'idleTimeoutMs' | 'connections' | 'headers' | 'streamUsage'> {
  /** Provider id and model prefix. Default `azure`: deployments are addressed as `azure/<deployment>`. */
  id?: string;
  /** Sent as the `api-key` header. Omit only when `headers` carries `authorization: Bearer <Entra ID token>`. */
  apiKey?: string;
  /** The resource endpoint, `https://<resource>.openai.azure.com` (or `….cognitiveservices.azure.com`). */
  endpoint?: string;
  /** Shorthand for `endpoint: https://<resourceName>.openai.azure.com`. */
  resourceName?: string;
  /**
   * The `api-version` query parameter. Default `2024-10-21`. `v1` selects Azure's version-less v1 API
   * (`/openai/v1/chat/completions`, deployment in the body's `model`).
   */
  apiVersion?: string;
  /** Deployment names listed by `/v1/models`; Azure's data plane has no deployment list to ask. */
  deployments?: readonly string[];
  /** Keep `prompt_filter_results` and `content_filter_results` on answers, as Azure clients expect. Default true. */
  keepContentFilterResults?: boolean;
}

/**
 * Azure OpenAI: OpenAI's Chat Completions on deployment URLs,
 * `POST {endpoint}/openai/deployments/{deployment}/chat/completions?api-version=…` with an `api-key`
 * header. Everything else — request conversion, stream normalisation (Azure's empty first chunk with
 * `prompt_filter_results` never reaches clients as a chunk), usage, errors — is the OpenAI adapter's.
 */
export function createAzureOpenAI(options: AzureOpenAIOptions): ProviderV1 {
  const endpoint = azureEndpoint(options);
  const apiVersion = options.apiVersion?.trim() || defaultAzureApiVersion;
  if (!options.apiKey && !hasAuthorizationHeader(options.headers)) {
    throw new TypeError('createAzureOpenAI: pass `apiKey` (sent as api-key) or an `authorization` header with an Entra ID token.');
  }
  const common = {
    id: options.id ?? 'azure',
    apiKey: options.apiKey,
    apiKeyHeader: { name: 'api-key' },
    headers: options.headers,
    models: options.deployments,
    streamUsage: options.streamUsage,
    extractError: extractAzureError,
    keepContentFilterResults: options.keepContentFilterResults ?? true,
    // Deployments are usually named after their model; the catalog then knows their limits.
    catalogProvider: 'openai',
    connectTimeoutMs: options.connectTimeoutMs,
    firstByteTimeoutMs: options.firstByteTimeoutMs,
    idleTimeoutMs: options.idleTimeoutMs,
    connections: options.connections,
  } satisfies Partial<OpenAICompatibleOptions>;

  if (apiVersion === 'v1') {
    // The v1 API is OpenAI's own surface below /openai/v1: default paths, deployment as `model`.
    return createOpenAICompatible({ ...common, baseURL: `${endpoint}/openai/v1`, buildPath: (operation) => (operation === 'models' ? null : defaultPath(operation)) });
  }
  const query = `?api-version=${encodeURIComponent(apiVersion)}`;
  return createOpenAICompatible({
    ...common,
    baseURL: `${endpoint}/openai`,
    buildPath: (operation, deployment) => {
      if (operation === 'models' || deployment === undefined) return null;
      return `/deployments/${encodeURIComponent(deployment)}/${operation === 'chat' ? 'chat/completions' : 'embeddings'}${query}`;
    },
  });
}

function defaultPath(operation: OpenAIEndpoint): string {
  return operation === 'chat' ? '/chat/completions' : `/${operation}`;
}

function azureEndpoint(options: AzureOpenAIOptions): string {
  const raw = options.endpoint?.trim() || (options.resourceName ? `https://${options.resourceName}.openai.azure.com` : '');
  if (!raw) throw new TypeError('createAzureOpenAI: pass `endpoint` (https://<resource>.openai.azure.com) or `resourceName`.');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TypeError(`createAzureOpenAI: endpoint '${raw}' is not a URL.`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError(`createAzureOpenAI: endpoint '${raw}' must be http(s).`);
  // Portals show the endpoint with a trailing slash, sometimes with `/openai` already on it.
  const path = url.pathname.replace(/\/+$/, '').replace(/\/openai$/, '');
  return `${url.origin}${path}`;
}

function hasAuthorizationHeader(headers: Record<string, string> | undefined): boolean {
  return headers !== undefined && Object.keys(headers).some((name) => name.toLowerCase() === 'authorization');
}
