/**
 * Logs through pino: JSON lines by default, pino-pretty when NODE_ENV=development (if installed).
 * Redaction is a second line of defence: code never puts a password, an HA1, a token or an Authorization value in a
 * log object, and these paths blank them should one slip in (at the top level and up to two levels down).
 */
import { createRequire } from 'node:module';
import pino, { type Logger } from 'pino';

export type { Logger };

const SECRET_KEYS = ['password', 'ha1', 'previousHa1', 'token', 'authorization', 'credentials'];

export const REDACT_PATHS = [
  ...SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]),
  'headers.authorization',
  'req.headers.authorization',
];

/** True when `name` can be loaded from here; pino would otherwise fail to start its transport (in a worker). */
function installed(name: string): boolean {
  try {
    createRequire(import.meta.url).resolve(name);
    return true;
  } catch {
    return false;
  }
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { name: 'sipreg' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (destination) return pino(options, destination);
  // pino-pretty is a dev convenience, not a dependency: plain JSON is fine without it.
  if (process.env.NODE_ENV === 'development' && installed('pino-pretty')) {
    try {
      return pino({ ...options, transport: { target: 'pino-pretty' } });
    } catch {
      // fall through to JSON
    }
  }
  // Synchronous writes to stdout: a line per write(2), nothing buffered to flush at exit. pino's default buffered
  // destination flushes at exit in a loop that never ends when the reader of stdout has gone (EPIPE), so SIGTERM
  // would hang; with sync writes an EPIPE just turns logging off (pino's broken-pipe handler).
  return pino(options, pino.destination({ dest: 1, sync: true }));
}
