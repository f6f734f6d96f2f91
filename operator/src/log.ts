// JSON logs to stdout (the operator process contract). One root logger; modules take children.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { component: 'cachetier-operator' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}

/** A logger that drops everything: the default for library code and unit tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
