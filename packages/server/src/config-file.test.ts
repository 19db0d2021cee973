import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { interpolateEnvironment, parseConfigText, readConfigFile } from './config-file.js';
import { ConfigError } from './config-schema.js';

function issuesOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues.map((issue) => `${issue.path}: ${issue.message}`);
  }
  throw new Error('no error was thrown');
}

describe('environment interpolation', () => {
  const environment = { OPENAI_API_KEY: 'sk-from-env', EMPTY: '', PORT: '9000', REGION: 'eu' };

  it('replaces ${VAR} in string values, anywhere in the string, and leaves other values alone', () => {
    const input = {
      server: { port: '${PORT}', trustProxy: true, drainTimeoutMs: 500 },
      providers: [{ type: 'openai', apiKey: '${OPENAI_API_KEY}', baseURL: 'https://${REGION}.example.com/v1', headers: { 'x-region': 'region-${REGION}-${REGION}' } }],
      aliases: { '${REGION}': 'openai/gpt-4o' },
    };
    expect(interpolateEnvironment(input, environment)).toEqual({
      server: { port: '9000', trustProxy: true, drainTimeoutMs: 500 },
      providers: [{ type: 'openai', apiKey: 'sk-from-env', baseURL: 'https://eu.example.com/v1', headers: { 'x-region': 'region-eu-eu' } }],
      // Keys are names, not values: they are never interpolated.
      aliases: { '${REGION}': 'openai/gpt-4o' },
    });
    expect(input.providers[0]!.apiKey).toBe('${OPENAI_API_KEY}');
  });

  it('uses the default of ${VAR:-default} when the variable is unset or empty', () => {
    expect(interpolateEnvironment(['${MISSING:-fallback}', '${EMPTY:-fallback}', '${PORT:-8787}', '${MISSING:-}', '${MISSING:-a:b/c}'], environment)).toEqual([
      'fallback',
      'fallback',
      '9000',
      '',
      'a:b/c',
    ]);
  });

  it('keeps an empty variable empty without a default, as a shell does', () => {
    expect(interpolateEnvironment({ value: '${EMPTY}' }, environment)).toEqual({ value: '' });
  });

  it('writes a literal ${ for $${', () => {
    expect(interpolateEnvironment({ value: 'price: $${PORT} and ${PORT}' }, environment)).toEqual({ value: 'price: ${PORT} and 9000' });
  });

  it('names the field and the variable for each unset variable without a default', () => {
    const input = { providers: [{ type: 'openai', apiKey: '${OPENAI_API_KEY}' }, { type: 'anthropic', apiKey: '${ANTHROPIC_API_KEY}' }], billing: { masterKey: '${MASTER_KEY}' } };
    expect(issuesOf(() => interpolateEnvironment(input, environment))).toEqual([
      'providers[1].apiKey: the environment variable ANTHROPIC_API_KEY is not set (write ${ANTHROPIC_API_KEY:-default} to give a default)',
      'billing.masterKey: the environment variable MASTER_KEY is not set (write ${MASTER_KEY:-default} to give a default)',
    ]);
  });

  it('reports references that are not variables rather than passing them through', () => {
    expect(issuesOf(() => interpolateEnvironment({ a: '${1ABC}', b: ['${unclosed'], c: '${}' }, environment))).toEqual([
      "a: '${1ABC}' is not a variable reference: write ${NAME} or ${NAME:-default} (and $${ for a literal ${)",
      "b[0]: '${' is not a variable reference: write ${NAME} or ${NAME:-default} (and $${ for a literal ${)",
      "c: '${}' is not a variable reference: write ${NAME} or ${NAME:-default} (and $${ for a literal ${)",
    ]);
  });

  it('leaves a lone $ alone', () => {
    expect(interpolateEnvironment({ password: 'pa$$word$', cost: '$5' }, environment)).toEqual({ password: 'pa$$word$', cost: '$5' });
  });
});

describe('config files', () => {
  const directory = mkdtempSync(join(tmpdir(), 'switchyard-config-file-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('reads YAML and JSON alike', () => {
    const yaml = join(directory, 'gateway.yaml');
    writeFileSync(yaml, 'server:\n  port: 9000\nproviders:\n  - type: openai\n    apiKey: ${KEY}\n');
    const json = join(directory, 'gateway.json');
    writeFileSync(json, JSON.stringify({ server: { port: 9000 }, providers: [{ type: 'openai', apiKey: '${KEY}' }] }));
    const expected = { server: { port: 9000 }, providers: [{ type: 'openai', apiKey: 'k' }] };
    expect(readConfigFile(yaml, { KEY: 'k' })).toEqual(expected);
    expect(readConfigFile(json, { KEY: 'k' })).toEqual(expected);
  });

  it('treats an empty file as an empty configuration', () => {
    expect(parseConfigText('', 'empty.yaml')).toEqual({});
    expect(parseConfigText('# only a comment\n', 'comment.yaml')).toEqual({});
  });

  it('names the line of a syntax error and rejects duplicate keys', () => {
    const [syntax] = issuesOf(() => parseConfigText('server:\n  port: 1\n bad indentation: [\n', 'bad.yaml'));
    expect(syntax).toMatch(/^line \d+, column \d+: /);
    const [duplicate] = issuesOf(() => parseConfigText('server:\n  port: 1\n  port: 2\n', 'dup.yaml'));
    expect(duplicate).toMatch(/^line 3, column 3: .*unique/i);
  });

  it('needs a mapping at the top', () => {
    expect(issuesOf(() => parseConfigText('- a\n- b\n', 'list.yaml'))).toEqual(['(root): the file must hold a mapping of sections (server, providers, aliases, …)']);
  });

  it('says which file cannot be read', () => {
    const missing = join(directory, 'missing.yaml');
    const [issue] = issuesOf(() => readConfigFile(missing, {}));
    expect(issue).toContain(`(file): cannot read '${missing}'`);
  });
});
