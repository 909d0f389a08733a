// A bot that answers every message sent to it, in Node 20+. Make a bot and its token with
// `POST /api/v1/bots` (docs/bots.md), then:
//   PARLEY_URL=http://localhost:3000 PARLEY_TOKEN='pbt_…' node examples/echo-bot.js
// Its place in each conversation is kept in echo-bot.state.json: restarted, it answers
// what it missed, and nothing twice.
import { FileStore, ParleyClient } from '@parley/client/node';

const client = new ParleyClient({
  baseUrl: process.env.PARLEY_URL ?? 'http://localhost:3000',
  // A bot token never expires: no session to refresh or keep.
  token: process.env.PARLEY_TOKEN,
  store: new FileStore(process.env.PARLEY_STATE ?? 'echo-bot.state.json'),
});

client.on('message', (message) => {
  // Its own answers come back as messages too; deleted messages have no body.
  if (message.senderId === client.userId || message.body === null) return;
  // Returns at once; the outbox sends it, retrying with one clientMessageId until stored.
  client.send(message.conversationId, `You said: ${message.body}`);
});
client.on('connection', ({ state }) => console.log(`connection ${state}`));
client.on('ended', () => process.exit(1));

await client.connect();
console.log(`listening as ${client.userId}`);
process.once('SIGTERM', () => client.close());
