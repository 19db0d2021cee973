import type { ProviderV1 } from '@switchyard/core';
import { createOpenAICompatible, type OpenAICompatibleOptions } from './openai-provider.js';

export type PresetOptions = Omit<OpenAICompatibleOptions, 'id' | 'baseURL'> & { id?: string; baseURL?: string };

interface Preset {
  id: string;
  baseURL: string;
  modelPrefixes: readonly string[];
}

/**
 * Known OpenAI-compatible providers: default base URL and the bare model names each one claims.
 * Hosts that serve many vendors' models (Groq, OpenRouter, Together, Ollama) claim no prefix, so a bare
 * `llama-…` is never routed to one of them by surprise: address them as `groq/llama-…`.
 */
export const openAICompatiblePresets = {
  openai: { id: 'openai', baseURL: 'https://api.openai.com/v1', modelPrefixes: ['gpt-', 'chatgpt-', 'o1', 'o3', 'o4', 'text-embedding-', 'omni-'] },
  deepseek: { id: 'deepseek', baseURL: 'https://api.deepseek.com/v1', modelPrefixes: ['deepseek-'] },
  groq: { id: 'groq', baseURL: 'https://api.groq.com/openai/v1', modelPrefixes: [] },
  mistral: { id: 'mistral', baseURL: 'https://api.mistral.ai/v1', modelPrefixes: ['mistral-', 'magistral-', 'codestral-', 'pixtral-', 'ministral-', 'devstral-'] },
  xai: { id: 'xai', baseURL: 'https://api.x.ai/v1', modelPrefixes: ['grok-'] },
  dashscope: { id: 'dashscope', baseURL: 'https://dashscope-intl.aliyuncs.com/compatible-mode/v1', modelPrefixes: ['qwen-', 'qwen2', 'qwen3', 'qwq-'] },
  openrouter: { id: 'openrouter', baseURL: 'https://openrouter.ai/api/v1', modelPrefixes: [] },
  together: { id: 'together', baseURL: 'https://api.together.xyz/v1', modelPrefixes: [] },
  ollama: { id: 'ollama', baseURL: 'http://127.0.0.1:11434/v1', modelPrefixes: [] },
} as const satisfies Record<string, Preset>;

export type OpenAICompatiblePresetName = keyof typeof openAICompatiblePresets;

export function createFromPreset(name: OpenAICompatiblePresetName, options: PresetOptions = {}): ProviderV1 {
  const preset = openAICompatiblePresets[name];
  return createOpenAICompatible({
    ...options,
    id: options.id ?? preset.id,
    baseURL: options.baseURL ?? preset.baseURL,
    modelPrefixes: options.modelPrefixes ?? preset.modelPrefixes,
  });
}

export const createOpenAI = (options: PresetOptions = {}) => createFromPreset('openai', options);
export const createDeepSeek = (options: PresetOptions = {}) => createFromPreset('deepseek', options);
export const createGroq = (options: PresetOptions = {}) => createFromPreset('groq', options);
export const createMistral = (options: PresetOptions = {}) => createFromPreset('mistral', options);
export const createXai = (options: PresetOptions = {}) => createFromPreset('xai', options);
export const createDashScope = (options: PresetOptions = {}) => createFromPreset('dashscope', options);
export const createOpenRouter = (options: PresetOptions = {}) => createFromPreset('openrouter', options);
export const createTogether = (options: PresetOptions = {}) => createFromPreset('together', options);
export const createOllama = (options: PresetOptions = {}) => createFromPreset('ollama', options);
