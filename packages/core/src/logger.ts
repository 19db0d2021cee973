import { pino } from 'pino';

/** The logging surface the gateway needs; a pino logger satisfies it, and so does any compatible one. */
export interface Logger {
  error(object: object | string, message?: string): void;
  warn(object: object | string, message?: string): void;
  info(object: object | string, message?: string): void;
  debug(object: object | string, message?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

export function createDefaultLogger(level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    // Secrets never reach the logs, even when a plugin logs a whole header object by mistake.
    redact: {
      paths: ['headers.authorization', 'headers["x-api-key"]', 'headers["api-key"]', 'headers["x-goog-api-key"]', 'apiKey', 'key'],
      censor: '[redacted]',
    },
  });
}

export const silentLogger: Logger = {
  error() {},
  warn() {},
  info() {},
  debug() {},
  child() {
    return silentLogger;
  },
};
