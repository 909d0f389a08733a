import { Injectable, NotFoundException, PipeTransform } from '@nestjs/common';

/** Ids are bigint identities sent as decimal strings; anything else names nothing. */
export const ID_PATTERN = /^[1-9]\d{0,17}$/;

export function isId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

/**
 * Ids are opaque to clients, so a malformed one is simply an id that does not exist: 404,
 * the same answer as for an id the caller may not see. Checking it here also keeps strings
 * that PostgreSQL cannot cast to bigint away from the database.
 */
@Injectable()
export class ParseIdPipe implements PipeTransform<string, string> {
  constructor(private readonly what = 'Resource') {}

  transform(value: string): string {
    if (!isId(value)) throw new NotFoundException(`${this.what} not found`);
    return value;
  }
}
