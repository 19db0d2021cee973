import { readFileSync } from 'node:fs';
import type { ProviderV1 } from '@switchyard/core';
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
}

/** The part of a `SWITCHYARD_CONFIG` file (JSON or YAML) this server reads. */
export interface ConfigFile {
  aliases?: Record<string, string>;
  fallback?: FallbackConfigInput;
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
  return { aliases: file.aliases as Record<string, string> | undefined, fallback: file.fallback as FallbackConfigInput | undefined };
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
  // Gemini serves `gemini/gemini-…` or a bare `gemini-…` through the Generative Language API.
  if (environment.GEMINI_API_KEY) {
    providers.push(createGemini({ apiKey: environment.GEMINI_API_KEY, baseURL: environment.GEMINI_BASE_URL || undefined }));
  }
  // Anthropic serves Claude as `anthropic/claude-…` or a bare `claude-…`; the base URL may point at a proxy.
  if (environment.ANTHROPIC_API_KEY) {
    providers.push(createAnthropic({ apiKey: environment.ANTHROPIC_API_KEY, baseURL: environment.ANTHROPIC_BASE_URL || undefined }));
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
  };
}
