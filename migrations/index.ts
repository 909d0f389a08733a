// Every migration, in order. The app, the tests and the migration CLI all load this list.
import { InitialSchema1763900000000 } from './1763900000000-initial-schema.js';

export const migrations = [InitialSchema1763900000000];
