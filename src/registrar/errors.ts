/**
 * The operator side's refusals (accounts, lockouts, credentials), named by what went wrong, not by an HTTP status:
 * the admin API maps them to statuses (admin/http.ts), the console shows their message, and the CLI, which speaks
 * the API, turns the statuses into its exit codes.
 */
export type OperatorErrorKind = 'invalid' | 'not-found' | 'exists';

export class OperatorError extends Error {
  constructor(
    readonly kind: OperatorErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'OperatorError';
  }
}
