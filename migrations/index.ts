// Every migration, in order. The app, the tests and the migration CLI all load this list.
import { InitialSchema1763900000000 } from './1763900000000-initial-schema.js';
import { AdminSearch1764000000000 } from './1764000000000-admin-search.js';
import { MemberIdsFunction1764100000000 } from './1764100000000-member-ids-function.js';
import { SendMessagesFunction1764200000000 } from './1764200000000-send-messages-function.js';
import { SendLockTimeout1764300000000 } from './1764300000000-send-lock-timeout.js';
import { WsTicketTokenVersion1764400000000 } from './1764400000000-ws-ticket-token-version.js';

export const migrations = [
  InitialSchema1763900000000,
  AdminSearch1764000000000,
  MemberIdsFunction1764100000000,
  SendMessagesFunction1764200000000,
  SendLockTimeout1764300000000,
  WsTicketTokenVersion1764400000000,
];
