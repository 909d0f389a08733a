import { Logger as NestLogger } from '@nestjs/common';
import { Logger as WorkerLogger } from 'graphile-worker';

const nest = new NestLogger('JobQueue');

/**
 * graphile-worker's log, in Parley's: its errors and warnings only (its info lines are one per
 * job, and its debug lines one per poll).
 */
export const quietWorkerLogger = new WorkerLogger(() => (level, message) => {
  if (level === 'error') nest.error(message);
  else if (level === 'warning') nest.warn(message);
});
