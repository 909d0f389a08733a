// Every migration, in order. The app, the tests and the migration CLI all load this list.
import { InitialSchema1763900000000 } from './1763900000000-initial-schema.js';
import { AdminSearch1764000000000 } from './1764000000000-admin-search.js';
import { MemberIdsFunction1764100000000 } from './1764100000000-member-ids-function.js';
import { SendMessagesFunction1764200000000 } from './1764200000000-send-messages-function.js';
import { SendLockTimeout1764300000000 } from './1764300000000-send-lock-timeout.js';
import { WsTicketTokenVersion1764400000000 } from './1764400000000-ws-ticket-token-version.js';
import { Sessions1765000000000 } from './1765000000000-sessions.js';
import { UserPrivacySettings1765500000000 } from './1765500000000-user-privacy-settings.js';
import { MessageFeatures1766000000000 } from './1766000000000-message-features.js';
import { SystemMessages1766100000000 } from './1766100000000-system-messages.js';
import { ReadReceipts1766110000000 } from './1766110000000-read-receipts.js';
import { MemberMessageSearch1766120000000 } from './1766120000000-member-message-search.js';
import { SystemMessagesTakeNoResponses1766130000000 } from './1766130000000-system-messages-take-no-responses.js';
import { Attachments1766400000000 } from './1766400000000-attachments.js';
import { KeyedPlansForBatchedWrites1766450000000 } from './1766450000000-keyed-plans-for-batched-writes.js';
import { Bots1766500000000 } from './1766500000000-bots.js';
import { Webhooks1766510000000 } from './1766510000000-webhooks.js';
import { WebPush1766520000000 } from './1766520000000-web-push.js';
import { WebhookShards1766530000000 } from './1766530000000-webhook-shards.js';
import { FanoutOutbox1766540000000 } from './1766540000000-fanout-outbox.js';
import { ConversationListActivity1766550000000 } from './1766550000000-conversation-list-activity.js';
import { PushLeases1766560000000 } from './1766560000000-push-leases.js';
import { PushShards1766570000000 } from './1766570000000-push-shards.js';
import { WakeJobsFastPath1766580000000 } from './1766580000000-wake-jobs-fast-path.js';

export const migrations = [
  InitialSchema1763900000000,
  AdminSearch1764000000000,
  MemberIdsFunction1764100000000,
  SendMessagesFunction1764200000000,
  SendLockTimeout1764300000000,
  WsTicketTokenVersion1764400000000,
  Sessions1765000000000,
  UserPrivacySettings1765500000000,
  MessageFeatures1766000000000,
  SystemMessages1766100000000,
  ReadReceipts1766110000000,
  MemberMessageSearch1766120000000,
  SystemMessagesTakeNoResponses1766130000000,
  Attachments1766400000000,
  KeyedPlansForBatchedWrites1766450000000,
  Bots1766500000000,
  Webhooks1766510000000,
  WebPush1766520000000,
  WebhookShards1766530000000,
  FanoutOutbox1766540000000,
  ConversationListActivity1766550000000,
  PushLeases1766560000000,
  PushShards1766570000000,
  WakeJobsFastPath1766580000000,
];
