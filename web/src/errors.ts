import { ParleyError } from '@parley/client';

/** What to tell the user about a call that failed. */
export function errorText(error: unknown, fallback = 'Something went wrong. Try again.'): string {
  if (!(error instanceof ParleyError)) return fallback;
  if (error.isNetworkError) return 'Cannot reach the server. Check your connection.';
  return error.message || fallback;
}

/** Whether a call failed with this HTTP status. */
export function failedWith(error: unknown, statusCode: number): boolean {
  return error instanceof ParleyError && error.statusCode === statusCode;
}
