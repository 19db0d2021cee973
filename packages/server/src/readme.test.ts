import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { providerIdOf } from './config-schema.js';
import { loadConfig } from './environment.js';
import { checkModelReferences } from './model-references.js';

/** The annotated gateway.yaml of the README is a working configuration, not an approximation of one. */
describe('README', () => {
  it('documents a configuration file that validates', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const example = /```yaml\n# gateway\.yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toBeDefined();
    const directory = mkdtempSync(join(tmpdir(), 'switchyard-readme-'));
    try {
      const path = join(directory, 'gateway.yaml');
      writeFileSync(path, example!);
      const { config } = loadConfig({
        SWITCHYARD_CONFIG: path,
        OPENAI_API_KEY: 'sk-openai',
        ANTHROPIC_API_KEY: 'sk-ant',
        GEMINI_API_KEY: 'gemini',
        AZURE_OPENAI_API_KEY: 'azure',
        REDIS_URL: 'redis://127.0.0.1:6379',
        SWITCHYARD_MASTER_KEY: 'sk-master',
        DATABASE_URL: 'postgres://127.0.0.1:5432/switchyard',
      });
      expect(config.providers.map(providerIdOf)).toEqual(['openai', 'anthropic', 'gemini', 'azure', 'ollama', 'vllm']);
      expect(config.server.port).toBe(8787);
      expect(checkModelReferences(config)).toEqual([]);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('lists every environment variable the gateway reads', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const sources = ['environment.ts', 'config-file.ts'].map((file) => readFileSync(new URL(file, import.meta.url), 'utf8')).join('\n');
    const read = new Set<string>();
    for (const match of sources.matchAll(/read\.\w+\('([A-Z][A-Z0-9_]+)'/g)) read.add(match[1]!);
    for (const match of sources.matchAll(/`\$\{prefix\}_(API_KEY|BASE_URL)`/g)) for (const prefix of ['OPENAI', 'DEEPSEEK', 'GROQ', 'MISTRAL', 'XAI', 'DASHSCOPE', 'OPENROUTER', 'TOGETHER']) read.add(`${prefix}_${match[1]}`);
    read.add('SWITCHYARD_CONFIG');
    expect(read.size).toBeGreaterThan(40);
    const table = readme.slice(readme.indexOf('## Environment variables'), readme.indexOf('## What runs'));
    const missing = [...read].filter((name) => !table.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });
});
