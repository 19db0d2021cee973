import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { type ConfigIssue, ConfigError, formatConfigPath } from './config-schema.js';

export type Environment = Record<string, string | undefined>;

/**
 * `${NAME}`, `${NAME:-default}`, or `$${` for a literal `${`. The default is literal text up to the
 * closing brace. Anything else after `${` is a mistake worth reporting rather than passing through.
 */
const reference = /\$\$\{|\$\{([^}]*)\}|\$\{/g;
const variableExpression = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;

/**
 * Replaces `${VAR}` and `${VAR:-default}` in every string value (never in keys) with the environment's
 * values, so secrets stay out of the file. `${VAR:-default}` uses the default when VAR is unset or
 * empty, as a shell does; an unset `${VAR}` without a default is an error naming the field and the
 * variable. Returns a new value; the input is not changed.
 */
export function interpolateEnvironment(value: unknown, environment: Environment, source?: string): unknown {
  const issues: ConfigIssue[] = [];
  const result = interpolateValue(value, environment, [], issues);
  if (issues.length > 0) throw new ConfigError(issues, source);
  return result;
}

function interpolateValue(value: unknown, environment: Environment, path: PropertyKey[], issues: ConfigIssue[]): unknown {
  if (typeof value === 'string') return interpolateString(value, environment, path, issues);
  if (Array.isArray(value)) return value.map((item, index) => interpolateValue(item, environment, [...path, index], issues));
  if (typeof value === 'object' && value !== null) {
    const copy: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) copy[key] = interpolateValue(item, environment, [...path, key], issues);
    return copy;
  }
  return value;
}

function interpolateString(value: string, environment: Environment, path: PropertyKey[], issues: ConfigIssue[]): string {
  if (!value.includes('${')) return value;
  return value.replace(reference, (match, expression: string | undefined) => {
    if (match === '$${') return '${';
    const parsed = expression === undefined ? null : variableExpression.exec(expression);
    if (!parsed) {
      issues.push({ path: formatConfigPath(path), message: `'${match}' is not a variable reference: write \${NAME} or \${NAME:-default} (and $\${ for a literal \${)` });
      return match;
    }
    const [, name, fallback] = parsed as unknown as [string, string, string | undefined];
    const current = environment[name];
    if (fallback !== undefined) return current === undefined || current === '' ? fallback : current;
    if (current === undefined) {
      issues.push({ path: formatConfigPath(path), message: `the environment variable ${name} is not set (write \${${name}:-default} to give a default)` });
      return match;
    }
    return current;
  });
}

/** Parses a YAML or JSON document (YAML is a superset of JSON, so one parser reads both). */
export function parseConfigText(text: string, source: string): Record<string, unknown> {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter });
  if (document.errors.length > 0) {
    throw new ConfigError(
      document.errors.map((error) => {
        const { line, col } = lineCounter.linePos(error.pos[0]);
        return { path: `line ${line}, column ${col}`, message: error.message.split('\n')[0]! };
      }),
      source,
    );
  }
  const parsed: unknown = document.toJS({ maxAliasCount: 100 });
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError([{ path: '(root)', message: 'the file must hold a mapping of sections (server, providers, aliases, …)' }], source);
  }
  return parsed as Record<string, unknown>;
}

/** Reads a config file and interpolates environment variables into its string values. */
export function readConfigFile(path: string, environment: Environment): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError([{ path: '(file)', message: `cannot read '${path}': ${(error as Error).message}` }], path);
  }
  return interpolateEnvironment(parseConfigText(text, path), environment, path) as Record<string, unknown>;
}
