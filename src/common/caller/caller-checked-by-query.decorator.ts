import { SetMetadata } from '@nestjs/common';

export const CALLER_CHECKED_BY_QUERY = 'parley:caller-checked-by-query';

/**
 * For the hottest routes (send a message, read one): the guard checks only the token's
 * signature and expiry, sets a `Caller` (no username or role), and the route's own statement
 * checks that the user is still active at that token version, answering 401 when not. The
 * guarantee is the same as everywhere else (a deactivated or revoked user's next request
 * fails), for one database round trip fewer.
 */
export const CallerCheckedByQuery = () => SetMetadata(CALLER_CHECKED_BY_QUERY, true);
