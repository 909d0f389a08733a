/**
 * The access token the page handed over, kept in IndexedDB: the browser stops and restarts a
 * service worker at will, so nothing in its memory lasts until the next push.
 */
export interface StoredToken {
  accessToken: string;
  /** ms since the epoch. */
  expiresAt: number;
}

const DB_NAME = 'parley-worker';
const STORE = 'token';
const KEY = 'current';

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function run<T>(mode: IDBTransactionMode, work: (store: IDBObjectStore) => IDBRequest): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const request = work(db.transaction(STORE, mode).objectStore(STORE));
      request.onsuccess = () => resolve(request.result as T);
      request.onerror = () => reject(request.error);
    });
  } finally {
    db.close();
  }
}

export function saveToken(token: StoredToken): Promise<void> {
  return run('readwrite', (store) => store.put(token, KEY));
}

export function forgetToken(): Promise<void> {
  return run('readwrite', (store) => store.delete(KEY));
}

/** The token if it is still valid for a while (a GET with one about to expire would fail anyway). */
export async function usableToken(now = Date.now()): Promise<string | undefined> {
  const token = await run<StoredToken | undefined>('readonly', (store) => store.get(KEY)).catch(() => undefined);
  return token && token.expiresAt > now + 5_000 ? token.accessToken : undefined;
}
