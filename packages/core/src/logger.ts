/** Structured fields attached to a log line. Never put secrets here. */
export type LogContext = Record<string, unknown>;

/** One logging method. */
export type LogMethod = (message: string, context?: LogContext) => void;

/**
 * What the packages log through. `console` satisfies it as is; so does a pino logger (pino
 * then prints `context` as an extra argument; wrap it as `(m, c) => log.warn(c, m)` to get
 * structured fields).
 */
export interface Logger {
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
}

const noop: LogMethod = () => {};

/** Discards everything: the default, so a library is silent unless asked. */
export const noopLogger: Logger = Object.freeze({
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
});
