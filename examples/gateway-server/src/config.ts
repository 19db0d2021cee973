import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { ProviderV1 } from '@switchyard/core';
import type { BillingStoreOption, ConfiguredPrice } from '@switchyard/plugin-billing';
import type { FallbackConfigInput } from '@switchyard/plugin-fallback';
import { parse as parseYaml } from 'yaml';
import {
  createAnthropic,
  createAzureOpenAI,
  createEchoProvider,
  createFromPreset,
  createGemini,
  type OpenAICompatiblePresetName,
} from '@switchyard/providers';

export interface ServerConfig {
  host: string;
  port: number;
  providers: ProviderV1[];
  /** Whether the built-in `demo/echo` model was added because no provider is configured. */
  demo: boolean;
  /** Model aliases from the configuration file. */
  aliases: Record<string, string>;
  /** Groups, routing rules, retries, timeouts and breaker settings from the configuration file. */
  fallback: FallbackConfigInput;
  billing: BillingConfig;
}

/** Virtual keys, budgets and the usage ledger; see `billingFromEnvironment`. */
export interface BillingConfig {
  /** `SWITCHYARD_MASTER_KEY`: the admin secret. Without it the server runs open (development). */
  masterKey: string | undefined;
  /** Where keys and the ledger live; undefined: billing is off (open development server). */
  store: BillingStoreOption | undefined;
  /** `SWITCHYARD_BILLING_SCHEMA`: the database schema of the billing tables. Default `switchyard`. */
  schema: string | undefined;
  /** Where ledger rows unwritable at shutdown are saved and replayed from. */
  spillDirectory: string | undefined;
  /** Per-model prices (dollars per million tokens) from the configuration file's `billing.prices`. */
  prices: Record<string, ConfiguredPrice>;
  /** LiteLLM price documents read from the files in `billing.litellm_prices`. */
  litellmPrices: unknown[];
  defaultMaxOutputTokens: number | undefined;
}

/** The `billing` section of the configuration file. */
export interface BillingConfigFile {
  prices?: Record<string, ConfiguredPrice>;
  /** Paths of LiteLLM `model_prices_and_context_window.json` files, relative to the configuration file. */
  litellm_prices?: string | string[];
  default_max_output_tokens?: number;
}

/** The part of a `SWITCHYARD_CONFIG` file (JSON or YAML) this server reads. */
export interface ConfigFile {
  aliases?: Record<string, string>;
  fallback?: FallbackConfigInput;
  billing?: BillingConfigFile;
}

/** Reads the JSON or YAML file named by `SWITCHYARD_CONFIG`; YAML is a superset of JSON, so one parser reads both. */
export function readConfigFile(path: string | undefined): ConfigFile {
  if (!path) return {};
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`SWITCHYARD_CONFIG: cannot read '${path}': ${(error as Error).message}`);
  }
  const parsed: unknown = parseYaml(text);
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`SWITCHYARD_CONFIG: '${path}' must hold an object.`);
  const file = parsed as Record<string, unknown>;
  if (file.aliases !== undefined && (typeof file.aliases !== 'object' || file.aliases === null || Object.values(file.aliases).some((value) => typeof value !== 'string'))) {
    throw new Error(`SWITCHYARD_CONFIG: 'aliases' must map names to model names.`);
  }
  if (file.billing !== undefined && (typeof file.billing !== 'object' || file.billing === null || Array.isArray(file.billing))) {
    throw new Error(`SWITCHYARD_CONFIG: 'billing' must be an object.`);
  }
  return {
    aliases: file.aliases as Record<string, string> | undefined,
    fallback: file.fallback as FallbackConfigInput | undefined,
    billing: file.billing as BillingConfigFile | undefined,
  };
}

type Environment = Record<string, string | undefined>;

/** Environment variable prefix for each OpenAI-compatible provider: `DEEPSEEK_API_KEY`, `DEEPSEEK_BASE_URL`. */
const compatibleProviders: Array<[OpenAICompatiblePresetName, string]> = [
  ['openai', 'OPENAI'],
  ['deepseek', 'DEEPSEEK'],
  ['groq', 'GROQ'],
  ['mistral', 'MISTRAL'],
  ['xai', 'XAI'],
  ['dashscope', 'DASHSCOPE'],
  ['openrouter', 'OPENROUTER'],
  ['together', 'TOGETHER'],
];

function parsePort(value: string | undefined): number {
  if (value === undefined || value === '') return 8787;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be an integer from 0 to 65535, got '${value}'.`);
  return port;
}

/** Reads the server's configuration. Each provider is enabled by its key; base URLs can be overridden. */
export function configFromEnvironment(environment: Environment = process.env): ServerConfig {
  const providers: ProviderV1[] = [];
  for (const [preset, prefix] of compatibleProviders) {
    const apiKey = environment[`${prefix}_API_KEY`];
    if (!apiKey) continue;
    const baseURL = environment[`${prefix}_BASE_URL`] || undefined;
    providers.push(createFromPreset(preset, { apiKey, baseURL }));
  }
  // Ollama runs locally without a key: its base URL is what enables it.
  if (environment.OLLAMA_BASE_URL) providers.push(createFromPreset('ollama', { baseURL: environment.OLLAMA_BASE_URL }));
  // Azure OpenAI needs its resource endpoint besides the key; deployments are addressed as `azure/<deployment>`.
  if (environment.AZURE_OPENAI_API_KEY) {
    if (!environment.AZURE_OPENAI_ENDPOINT) throw new Error('AZURE_OPENAI_API_KEY is set but AZURE_OPENAI_ENDPOINT (https://<resource>.openai.azure.com) is not.');
    providers.push(
      createAzureOpenAI({
        apiKey: environment.AZURE_OPENAI_API_KEY,
        endpoint: environment.AZURE_OPENAI_ENDPOINT,
        apiVersion: environment.AZURE_OPENAI_API_VERSION || undefined,
        // Azure cannot list deployments on its data plane: name them for /v1/models.
        deployments: environment.AZURE_OPENAI_DEPLOYMENTS?.split(',').map((name) => name.trim()).filter((name) => name !== ''),
      }),
    );
  }
  // Anthropic serves Claude as `anthropic/claude-…` or a bare `claude-…`; the base URL may point at a proxy.
  if (environment.ANTHROPIC_API_KEY) {
    providers.push(createAnthropic({ apiKey: environment.ANTHROPIC_API_KEY, baseURL: environment.ANTHROPIC_BASE_URL || undefined }));
  }
  // Gemini serves `gemini/gemini-…` or a bare `gemini-…` through the Generative Language API.
  if (environment.GEMINI_API_KEY) {
    providers.push(createGemini({ apiKey: environment.GEMINI_API_KEY, baseURL: environment.GEMINI_BASE_URL || undefined }));
  }
  const demo = providers.length === 0;
  if (demo) providers.push(createEchoProvider());
  const file = readConfigFile(environment.SWITCHYARD_CONFIG);
  return {
    host: environment.HOST || '127.0.0.1',
    port: parsePort(environment.PORT),
    providers,
    demo,
    aliases: file.aliases ?? {},
    fallback: file.fallback ?? {},
    billing: billingFromEnvironment(environment, file.billing ?? {}, environment.SWITCHYARD_CONFIG),
  };
}

/**
 * Billing's store: PostgreSQL when `DATABASE_URL` is set (several gateways can share it), else the
 * embedded store in `SWITCHYARD_DATA_DIR` (`memory://` for a throwaway one). A master key with neither
 * uses the embedded store in `.data/switchyard`. With no master key and no store the server runs open
 * and records nothing: a development server starts instantly and leaves no files behind.
 */
export function billingFromEnvironment(environment: Environment, file: BillingConfigFile, configPath: string | undefined): BillingConfig {
  const masterKey = environment.SWITCHYARD_MASTER_KEY || undefined;
  const dataDirectory = environment.SWITCHYARD_DATA_DIR || (masterKey ? '.data/switchyard' : undefined);
  let store: BillingStoreOption | undefined;
  if (environment.DATABASE_URL) store = { postgres: environment.DATABASE_URL };
  else if (dataDirectory) store = { embedded: dataDirectory };
  // Ledger rows the database could not take by shutdown are saved here and written at the next start.
  const spillDirectory = environment.SWITCHYARD_SPILL_DIR || join(dataDirectory && dataDirectory !== 'memory://' ? dataDirectory : '.data/switchyard', 'unsent');
  const litellmFiles = file.litellm_prices === undefined ? [] : Array.isArray(file.litellm_prices) ? file.litellm_prices : [file.litellm_prices];
  const litellmPrices = litellmFiles.map((path) => {
    const resolved = configPath ? resolve(dirname(configPath), path) : path;
    try {
      return JSON.parse(readFileSync(resolved, 'utf8')) as unknown;
    } catch (error) {
      throw new Error(`SWITCHYARD_CONFIG: billing.litellm_prices: cannot read '${resolved}': ${(error as Error).message}`);
    }
  });
  const maxOutput = file.default_max_output_tokens;
  if (maxOutput !== undefined && (!Number.isInteger(maxOutput) || maxOutput <= 0)) {
    throw new Error('SWITCHYARD_CONFIG: billing.default_max_output_tokens must be a positive integer.');
  }
  return { masterKey, store, schema: environment.SWITCHYARD_BILLING_SCHEMA || undefined, spillDirectory, prices: file.prices ?? {}, litellmPrices, defaultMaxOutputTokens: maxOutput };
}
