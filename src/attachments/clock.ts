import { Injectable } from '@nestjs/common';

/**
 * The time as the attachments module reads it (link expiry, the cleanup job's day), in ms since
 * the epoch: one injectable, so that tests can move it forward a day instead of waiting one.
 */
@Injectable()
export class Clock {
  now(): number {
    return Date.now();
  }
}
