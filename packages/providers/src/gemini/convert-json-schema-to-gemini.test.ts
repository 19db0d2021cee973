import { describe, expect, it } from 'vitest';
import { convertJsonSchemaToGemini, isEmptyObjectSchema } from './convert-json-schema-to-gemini.js';

describe('convertJsonSchemaToGemini', () => {
  it('rewrites an OpenAI strict-mode schema: nullable types, $defs, anyOf with null, const', () => {
    const schema = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      $defs: { unit: { type: 'string', enum: ['metric', 'imperial'], description: 'Unit system' } },
      properties: {
        city: { type: 'string', description: 'City name', minLength: 1 },
        unit: { $ref: '#/$defs/unit' },
        days: { type: ['integer', 'null'], minimum: 1, maximum: 14 },
        when: { anyOf: [{ type: 'string', format: 'date-time' }, { type: 'null' }] },
        kind: { const: 'forecast' },
        tags: { type: 'array', items: { type: 'string', format: 'uuid' }, maxItems: 5 },
      },
      required: ['city', 'unit', 'days', 'when', 'kind', 'tags'],
      additionalProperties: false,
    };
    expect(convertJsonSchemaToGemini(schema)).toEqual({
      type: 'object',
      properties: {
        city: { type: 'string', description: 'City name', minLength: 1 },
        unit: { type: 'string', enum: ['metric', 'imperial'], description: 'Unit system' },
        days: { type: 'integer', minimum: 1, maximum: 14, nullable: true },
        when: { type: 'string', format: 'date-time', nullable: true },
        kind: { type: 'string', enum: ['forecast'] },
        // `uuid` is not a format Gemini knows: dropped rather than rejected upstream.
        tags: { type: 'array', items: { type: 'string' }, maxItems: 5 },
      },
      required: ['city', 'unit', 'days', 'when', 'kind', 'tags'],
    });
  });

  it('keeps real alternatives as anyOf and splits bare type lists', () => {
    expect(
      convertJsonSchemaToGemini({
        type: 'object',
        properties: {
          target: { oneOf: [{ type: 'string' }, { type: 'object', properties: { id: { type: 'integer' } } }] },
          value: { type: ['string', 'number'] },
        },
      }),
    ).toEqual({
      type: 'object',
      properties: {
        target: { anyOf: [{ type: 'string' }, { type: 'object', properties: { id: { type: 'integer' } } }] },
        value: { anyOf: [{ type: 'string' }, { type: 'number' }] },
      },
    });
  });

  it('adds propertyOrdering on request, keeping the client order', () => {
    expect(convertJsonSchemaToGemini({ type: 'object', properties: { zeta: { type: 'string' }, alpha: { type: 'string' } } }, { orderProperties: true })).toEqual({
      type: 'object',
      properties: { zeta: { type: 'string' }, alpha: { type: 'string' } },
      propertyOrdering: ['zeta', 'alpha'],
    });
  });

  it('says the subset cannot express recursive, map, tuple, allOf, free-form and non-string enum schemas', () => {
    const unrepresentable: Array<Record<string, unknown>> = [
      { $defs: { node: { type: 'object', properties: { next: { $ref: '#/$defs/node' } } } }, $ref: '#/$defs/node' },
      { type: 'object', properties: { scores: { type: 'object', additionalProperties: { type: 'number' } } } },
      { type: 'object', properties: { pair: { type: 'array', items: [{ type: 'string' }, { type: 'number' }] } } },
      { type: 'object', properties: { both: { allOf: [{ type: 'string' }, { minLength: 2 }] } } },
      { type: 'object', properties: { anything: {} } },
      { type: 'object', properties: { meta: { type: 'object' } } },
      { type: 'object', properties: { level: { enum: [1, 2, 3] } } },
      { type: 'object', properties: { nothing: { type: 'null' } } },
      { type: 'object', properties: { negated: { not: { type: 'string' } } } },
      { type: 'object', properties: { external: { $ref: 'https://example.com/schema.json' } } },
      { type: 'object', properties: { dangling: { $ref: '#/$defs/missing' } } },
      { type: 'object', properties: { list: { type: 'array' } } },
    ];
    for (const schema of unrepresentable) expect(convertJsonSchemaToGemini(schema), JSON.stringify(schema)).toBeUndefined();
  });

  it('expands a $ref used twice that is not recursive', () => {
    const point = { type: 'object', properties: { x: { type: 'number' }, y: { type: 'number' } } };
    expect(convertJsonSchemaToGemini({ type: 'object', definitions: { point }, properties: { from: { $ref: '#/definitions/point' }, to: { $ref: '#/definitions/point' } } })).toEqual({
      type: 'object',
      properties: { from: point, to: point },
    });
  });

  it('returns undefined for a root object without properties', () => {
    expect(convertJsonSchemaToGemini({ type: 'object', properties: {}, additionalProperties: false })).toBeUndefined();
  });
});

describe('isEmptyObjectSchema', () => {
  it('is true only for objects that declare nothing', () => {
    expect(isEmptyObjectSchema({})).toBe(true);
    expect(isEmptyObjectSchema({ type: 'object', properties: {}, required: [], additionalProperties: false })).toBe(true);
    expect(isEmptyObjectSchema({ type: 'object', properties: { a: { type: 'string' } } })).toBe(false);
    expect(isEmptyObjectSchema({ $ref: '#/$defs/x', $defs: { x: { type: 'object' } } })).toBe(false);
    expect(isEmptyObjectSchema({ type: 'string' })).toBe(false);
  });
});
