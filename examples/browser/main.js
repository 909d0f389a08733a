// A minimal page on @parley/client: log in, see messages arrive, answer. Its place in each
// conversation is kept in IndexedDB and its session in sessionStorage, so a reload shows
// only what arrived meanwhile. Build it with any bundler (`npx vite examples/browser`);
// the server is the page's origin, or ?server=<url> (CORS and the ticket do the rest).
import { ParleyClient, ParleyError } from '@parley/client';
import { IndexedDbStore } from '@parley/client/indexeddb';

const $ = (id) => document.getElementById(id);
const baseUrl = new URLSearchParams(location.search).get('server') ?? location.origin;
const store = new IndexedDbStore();
let lastConversationId;

function show(text, className = '') {
  const item = Object.assign(document.createElement('li'), { textContent: text, className });
  $('messages').append(item);
  return item;
}

function start(client) {
  const keep = () => sessionStorage.setItem('parley-session', JSON.stringify(client.session));
  keep();
  client.on('tokens', keep);
  client.on('ended', () => sessionStorage.removeItem('parley-session'));
  client.on('connection', ({ state }) => ($('state').textContent = state));
  client.on('message', (message) => {
    lastConversationId = message.conversationId;
    show(`${message.senderId === client.userId ? 'me' : message.senderId}: ${message.body ?? '(deleted)'}`);
  });
  $('reply').addEventListener('submit', (event) => {
    event.preventDefault();
    if (!lastConversationId) return;
    // Shown at once as pending; the same message coming back from the server replaces it.
    const pending = show(`me: ${$('body').value}`, 'pending');
    client.send(lastConversationId, $('body').value).sent.then(() => pending.remove(), () => undefined);
    $('body').value = '';
  });
  $('login').hidden = true;
  $('chat').hidden = false;
  void client.connect();
}

$('login').addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    start(await ParleyClient.login({ baseUrl, store, username: $('username').value, password: $('password').value }));
  } catch (error) {
    $('login-error').textContent = error instanceof ParleyError ? error.message : String(error);
  }
});

const kept = JSON.parse(sessionStorage.getItem('parley-session') ?? 'null');
if (kept) start(new ParleyClient({ baseUrl, store, session: kept }));
