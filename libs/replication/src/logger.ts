/**
 * The logging this package needs: pino's shape (object first, then message), so a pino logger
 * passes as is and tests can collect lines.
 */
export interface ReplicationLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** A logger that drops everything. */
export const silentLogger: ReplicationLogger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
