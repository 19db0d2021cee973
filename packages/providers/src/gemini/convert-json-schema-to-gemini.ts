import type { GeminiSchema } from './gemini-api.js';

/*
 * Gemini's `Schema` (function `parameters`, `responseSchema`) is a subset of OpenAPI 3.0: no `$ref`, no
 * `additionalProperties`, no `const`, no type arrays, `nullable` instead of `"null"`, string-only `enum`,
 * a handful of formats. Every Gemini model accepts it. Clients send full JSON Schema (OpenAI strict mode
 * makes them add `additionalProperties: false`, `$defs` and `["string","null"]`), so it is rewritten here.
 *
 * A schema the subset cannot express (recursive `$ref`, maps, `allOf`, non-string `enum`…) is not
 * approximated: the converter says so and the caller sends it as JSON Schema (`parametersJsonSchema`,
 * `responseJsonSchema`), which newer models accept unchanged.
 */

class UnrepresentableSchema extends Error {}

/** Keywords copied as they are. */
const copiedKeywords = [
  'title',
  'description',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
  'minLength',
  'maxLength',
  'pattern',
  'minimum',
  'maximum',
  'default',
  'example',
  'propertyOrdering',
] as const;

/** Keywords that only annotate or restate what the subset already means: dropping them loses nothing the model uses. */
const ignoredKeywords = new Set([
  '$schema',
  '$id',
  '$comment',
  '$defs',
  'definitions',
  'examples',
  'readOnly',
  'writeOnly',
  'deprecated',
  'strict',
  'contentMediaType',
  'contentEncoding',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'uniqueItems',
]);

const supportedFormats: Record<string, ReadonlySet<string>> = {
  string: new Set(['enum', 'date-time']),
  number: new Set(['float', 'double']),
  integer: new Set(['int32', 'int64']),
};

/** Keywords the converter reads itself. */
const handledKeywords = new Set<string>([...copiedKeywords, '$ref', 'type', 'nullable', 'properties', 'required', 'items', 'enum', 'const', 'format', 'anyOf', 'oneOf']);

const knownTypes = new Set(['string', 'number', 'integer', 'boolean', 'array', 'object', 'null']);

export interface GeminiSchemaOptions {
  /**
   * Add `propertyOrdering` with the client's key order. Gemini orders output keys alphabetically
   * otherwise; for structured output the client's order is the one it asked for.
   */
  orderProperties?: boolean;
}

/**
 * Converts a JSON Schema to Gemini's OpenAPI subset, or returns undefined when the subset cannot express
 * it. A root object schema without properties also returns undefined: Gemini rejects an `OBJECT` with no
 * properties, and a function without parameters is declared without `parameters`.
 */
export function convertJsonSchemaToGemini(schema: Record<string, unknown>, options: GeminiSchemaOptions = {}): GeminiSchema | undefined {
  try {
    const converted = convertNode(schema, { root: schema, expanding: [], depth: 0, options });
    if (isEmptyObjectSchema(converted)) return undefined;
    return converted;
  } catch (error) {
    if (error instanceof UnrepresentableSchema) return undefined;
    throw error;
  }
}

/** Keywords an object schema without properties may carry and still say nothing about the arguments. */
const emptyObjectKeywords = new Set(['type', 'properties', 'required', 'additionalProperties', '$schema', 'title', 'description', 'strict']);

/** Whether a JSON Schema describes an object with no declared properties (a function without parameters). */
export function isEmptyObjectSchema(schema: Record<string, unknown>): boolean {
  const properties = schema.properties;
  const hasProperties = typeof properties === 'object' && properties !== null && Object.keys(properties).length > 0;
  return (schema.type === 'object' || schema.type === undefined) && !hasProperties && Object.keys(schema).every((key) => emptyObjectKeywords.has(key));
}

interface Walk {
  root: Record<string, unknown>;
  /** `$ref`s being expanded on the current path: meeting one again means the schema is recursive. */
  expanding: string[];
  depth: number;
  options: GeminiSchemaOptions;
}

const maxDepth = 64;

function convertNode(node: unknown, walk: Walk): GeminiSchema {
  if (node === true || (isRecord(node) && Object.keys(node).length === 0)) {
    // "anything": the subset has no way to say it inside an object.
    throw new UnrepresentableSchema('an unconstrained schema');
  }
  if (!isRecord(node)) throw new UnrepresentableSchema('a schema that is not an object');
  if (walk.depth > maxDepth) throw new UnrepresentableSchema('a schema nested too deeply');
  const next: Walk = { ...walk, depth: walk.depth + 1 };

  if (typeof node.$ref === 'string') {
    const reference = node.$ref;
    if (walk.expanding.includes(reference)) throw new UnrepresentableSchema('a recursive $ref');
    const target = resolveReference(walk.root, reference);
    const { $ref: _ref, ...siblings } = node;
    const expanded = convertNode({ ...target, ...siblings }, { ...next, expanding: [...walk.expanding, reference] });
    return expanded;
  }

  const result: GeminiSchema = {};
  let nullable = node.nullable === true;

  for (const key of Object.keys(node)) {
    if (handledKeywords.has(key) || ignoredKeywords.has(key)) continue;
    if (key === 'additionalProperties') {
      // `false` (OpenAI strict mode) and `true` add nothing the model needs; a value schema is a map type.
      if (typeof node.additionalProperties === 'boolean') continue;
      throw new UnrepresentableSchema('additionalProperties with a schema');
    }
    if (key === 'allOf' && Array.isArray(node.allOf) && node.allOf.length === 1) continue;
    throw new UnrepresentableSchema(`the keyword '${key}'`);
  }

  // Types: ["string","null"] is the JSON Schema way to say nullable.
  let types: string[] = [];
  if (typeof node.type === 'string') types = [node.type];
  else if (Array.isArray(node.type)) types = node.type.filter((type): type is string => typeof type === 'string');
  else if (node.type !== undefined) throw new UnrepresentableSchema('a type that is not a string');
  for (const type of types) if (!knownTypes.has(type)) throw new UnrepresentableSchema(`the type '${type}'`);
  if (types.includes('null')) {
    nullable = true;
    types = types.filter((type) => type !== 'null');
  }

  if (Array.isArray(node.allOf) && node.allOf.length === 1) {
    Object.assign(result, convertNode(node.allOf[0], next));
  }

  for (const keyword of copiedKeywords) {
    if (node[keyword] !== undefined) result[keyword] = node[keyword];
  }

  if (types.length > 1) {
    // Several types, as in `["string","number"]`: one alternative per type. Type-specific constraints
    // would have to be split between the alternatives; that is left to JSON Schema.
    const constrained = Object.keys(node).some((key) => !['type', 'nullable', 'title', 'description', 'default', 'example'].includes(key) && !ignoredKeywords.has(key));
    if (constrained) throw new UnrepresentableSchema('several types with constraints');
    result.anyOf = types.map((type) => ({ type }));
  } else if (types.length === 1) {
    result.type = types[0];
  } else if (nullable && node.anyOf === undefined && node.oneOf === undefined && node.enum === undefined && node.const === undefined) {
    // `{"type":"null"}` alone: the subset has no null type.
    throw new UnrepresentableSchema('a schema that only allows null');
  }

  const alternatives = node.anyOf ?? node.oneOf;
  if (alternatives !== undefined) {
    if (!Array.isArray(alternatives) || alternatives.length === 0) throw new UnrepresentableSchema('an empty anyOf');
    const nonNull = alternatives.filter((alternative) => !(isRecord(alternative) && alternative.type === 'null' && Object.keys(alternative).length === 1));
    if (nonNull.length !== alternatives.length) nullable = true;
    if (nonNull.length === 0) throw new UnrepresentableSchema('a schema that only allows null');
    if (nonNull.length === 1) {
      // `anyOf: [X, null]` is how strict mode says "X or null": fold it into X with `nullable`.
      const single = convertNode(nonNull[0], next);
      for (const key of Object.keys(single)) if (result[key] === undefined) result[key] = single[key];
    } else {
      result.anyOf = nonNull.map((alternative) => convertNode(alternative, next));
    }
  }

  if (node.const !== undefined || node.enum !== undefined) {
    const values = node.const !== undefined ? [node.const] : node.enum;
    if (!Array.isArray(values)) throw new UnrepresentableSchema('an enum that is not a list');
    if (values.includes(null)) nullable = true;
    const present = values.filter((value) => value !== null);
    if (!present.every((value): value is string => typeof value === 'string')) throw new UnrepresentableSchema('a non-string enum');
    if (present.length === 0) throw new UnrepresentableSchema('an enum of only null');
    result.enum = present;
    result.type ??= 'string';
    if (result.type !== 'string') throw new UnrepresentableSchema('an enum on a non-string type');
  }

  if (typeof node.format === 'string' && typeof result.type === 'string' && supportedFormats[result.type]?.has(node.format)) {
    result.format = node.format;
  }

  if (node.properties !== undefined) {
    if (!isRecord(node.properties)) throw new UnrepresentableSchema('properties that are not an object');
    const properties: Record<string, GeminiSchema> = {};
    for (const [name, property] of Object.entries(node.properties)) properties[name] = convertNode(property, next);
    if (Object.keys(properties).length > 0) {
      result.properties = properties;
      if (walk.options.orderProperties && result.propertyOrdering === undefined && Object.keys(properties).length > 1) {
        result.propertyOrdering = Object.keys(properties);
      }
    }
    result.type ??= 'object';
  }
  if (Array.isArray(node.required) && node.required.length > 0) result.required = node.required.filter((name) => typeof name === 'string');

  if (node.items !== undefined) {
    if (Array.isArray(node.items)) throw new UnrepresentableSchema('tuple items');
    result.items = convertNode(node.items, next);
    result.type ??= 'array';
  }

  if (result.type === 'object' && result.properties === undefined && walk.depth > 0) {
    // A free-form object inside the schema: Gemini rejects OBJECT without properties.
    throw new UnrepresentableSchema('an object without properties');
  }
  if (result.type === 'array' && result.items === undefined) throw new UnrepresentableSchema('an array without items');
  if (nullable) result.nullable = true;
  return result;
}

function resolveReference(root: Record<string, unknown>, reference: string): Record<string, unknown> {
  if (!reference.startsWith('#/')) throw new UnrepresentableSchema('an external $ref');
  let current: unknown = root;
  for (const rawSegment of reference.slice(2).split('/')) {
    const segment = rawSegment.replaceAll('~1', '/').replaceAll('~0', '~');
    if (!isRecord(current) || !Object.hasOwn(current, segment)) throw new UnrepresentableSchema('a $ref that points nowhere');
    current = current[segment];
  }
  if (!isRecord(current)) throw new UnrepresentableSchema('a $ref to a non-schema');
  return current;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
