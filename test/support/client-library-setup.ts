import { ensureClientLibraryBuilt } from './client-library.js';

/** Builds packages/client before the suites that run it as its users do (examples, the tarball). */
export default async function setup(): Promise<void> {
  await ensureClientLibraryBuilt();
}
