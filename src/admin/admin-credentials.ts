import { isLengthBetween } from '../common/text-length.js';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, USERNAME_PATTERN } from '../config/app-config.js';

/** Refused input for an admin account, worded for the person at the console. */
export class AdminAccountError extends Error {}

/** The same rules as registration. */
export function checkAdminCredentials(username: string, password?: string): void {
  if (!USERNAME_PATTERN.test(username)) throw new AdminAccountError('username must be 3–32 characters of a-z 0-9 _ . -');
  if (password !== undefined && !isLengthBetween(password, PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH)) {
    throw new AdminAccountError(`password must be ${PASSWORD_MIN_LENGTH}–${PASSWORD_MAX_LENGTH} characters`);
  }
}
