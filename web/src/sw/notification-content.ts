/** The fields of the contract's `message`, `conversation` and `user` that a notification shows. */
export interface PushedMessage {
  senderId: string;
  body: string | null;
  kind: string;
  attachments: unknown[];
}
export interface PushedConversation {
  type: string;
  title: string | null;
}
export interface Sender {
  username: string;
  displayName: string;
}

export interface NotificationContent {
  title: string;
  options: NotificationOptions & { renotify?: boolean };
}

/** The URL that shows a conversation (the page routes by the #fragment). */
export function conversationUrl(conversationId: string): string {
  return `/#/c/${encodeURIComponent(conversationId)}`;
}

/** Long bodies are cut: the system shows a few lines at most. */
const MAX_BODY = 200;

function options(conversationId: string, body: string): NotificationContent['options'] {
  return {
    body,
    // One notification per conversation: a burst replaces it instead of piling up, and each still alerts.
    tag: `conversation-${conversationId}`,
    renotify: true,
    data: { conversationId },
  };
}

/** Sender (and group) as the title, the text as the body. */
export function messageNotification(conversationId: string, message: PushedMessage, conversation: PushedConversation, sender: Sender): NotificationContent {
  const name = sender.displayName || sender.username;
  const title = conversation.type === 'group' ? `${name} in ${conversation.title ?? 'a group'}` : name;
  const text = message.body?.trim();
  const body =
    message.kind === 'system' ? 'The conversation changed' : text ? shorten(text) : message.attachments.length > 0 ? 'Sent an attachment' : 'Deleted a message';
  return { title, options: options(conversationId, body) };
}

/** When the message cannot be read (no usable token, or the GET failed): still one that opens it. */
export function genericNotification(conversationId: string): NotificationContent {
  return { title: 'New message', options: options(conversationId, 'Open Parley to read it.') };
}

function shorten(text: string): string {
  const chars = [...text];
  return chars.length > MAX_BODY ? `${chars.slice(0, MAX_BODY - 1).join('')}…` : text;
}
