import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';

/**
 * Test helpers: validation of what the gateway emits against OpenAI's official schemas, and the path of
 * the recorded provider fixtures. Both live in `../shared/fixtures` beside the project when it exists;
 * tests that need them are skipped otherwise, so the project passes its own tests without that folder.
 */

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

/** `../shared/fixtures` from the project root, or undefined when it is not there. */
export const sharedFixturesDir: string | undefined = (() => {
  const candidate = join(projectRoot, '..', 'shared', 'fixtures');
  return existsSync(candidate) ? candidate : undefined;
})();

type Validate = (value: unknown) => string[];

export interface OpenAISchemaValidators {
  chunk: Validate;
  response: Validate;
  error: Validate;
}

/**
 * Validators built from `openai-openapi/chat-completions-schemas.subset.json`. The spec is OpenAPI 3.1 but
 * keeps some 3.0 `nullable` keywords and a custom `unixtime` format; both are rewritten so ajv reads them.
 */
export function loadOpenAISchemaValidators(): OpenAISchemaValidators | undefined {
  if (!sharedFixturesDir) return undefined;
  const file = join(sharedFixturesDir, 'openai-openapi', 'chat-completions-schemas.subset.json');
  if (!existsSync(file)) return undefined;
  const document = JSON.parse(readFileSync(file, 'utf8')) as { components: { schemas: Record<string, unknown> } };
  const rewrite = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(rewrite);
    if (typeof node !== 'object' || node === null) return node;
    const result: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) {
      if (key === 'nullable' || (key === 'format' && value === 'unixtime')) continue;
      result[key] = rewrite(value);
    }
    const record = node as Record<string, unknown>;
    if (record.nullable === true) {
      return { anyOf: [result, { type: 'null' }] };
    }
    return result;
  };
  const schemas = rewrite(document.components.schemas) as Record<string, unknown>;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addSchema({ $id: 'openai', components: { schemas } });
  const compile = (name: string): Validate => {
    const validate = ajv.compile({ $ref: `openai#/components/schemas/${name}` });
    return (value) => (validate(value) ? [] : (validate.errors ?? []).map((error) => `${error.instancePath} ${error.message ?? ''}`.trim()));
  };
  return {
    chunk: compile('CreateChatCompletionStreamResponse'),
    response: compile('CreateChatCompletionResponse'),
    error: compile('ErrorResponse'),
  };
}
