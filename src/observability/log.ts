/**
 * Logs through pino: JSON lines by default, pino-pretty when NODE_ENV=development (if installed).
 * Redaction is a second line of defence: code never puts a password, an HA1, a token or an Authorization value in a
 * log object, and these paths blank them should one slip in.
 */
import pino, { type Logger } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'password',
  '*.password',
  'ha1',
  '*.ha1',
  'previousHa1',
  '*.previousHa1',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'credentials',
  '*.credentials',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { name: 'sipreg' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (destination) return pino(options, destination);
  if (process.env.NODE_ENV === 'development') {
    try {
      return pino({ ...options, transport: { target: 'pino-pretty' } });
    } catch {
      // pino-pretty is a dev convenience; plain JSON is fine without it.
    }
  }
  return pino(options);
}
