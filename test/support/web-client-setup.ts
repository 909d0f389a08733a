import { ensureWebClientBuilt } from './browser.js';

/**
 * Builds the web client before any suite boots the app, so that the app finds it at `/` (tests
 * run from source, without `npm run build`). A no-op when web/dist is newer than its sources.
 */
export default async function setup(): Promise<void> {
  await ensureWebClientBuilt();
}
