import { ServiceUnavailableException } from '@nestjs/common';

/** A 503 whose Retry-After says how long the work already accepted should take to clear. */
export class ServiceBusyException extends ServiceUnavailableException {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}
