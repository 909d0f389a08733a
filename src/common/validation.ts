import { type ArgumentMetadata, BadRequestException, ValidationPipe, type ValidationPipeOptions, applyDecorators } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { IsInt, Matches, Max, Min } from 'class-validator';
import { ID_PATTERN } from './ids.js';
import { assertWithinInputLimits } from './input-limits.js';

/**
 * A query parameter that is a whole number from `min` to `max`. Only decimal digits become a
 * number; anything else is left as it came, to be told it must be an integer: Number()
 * (class-transformer's `@Type(() => Number)`) read `0x10` as 16, `1e1` as 10 and a blank as 0.
 */
export const IntegerQuery = (min: number, max: number) =>
  applyDecorators(
    Transform(({ value }) => (typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value)),
    InOrder(IsInt(), Min(min), Max(max)),
  );

/** Trims strings before validation (`body: 1–4000 characters after trimming`). */
export const Trim = () => Transform(({ value }) => (typeof value === 'string' ? value.trim() : value));

/**
 * A field's checks, run in the order written. class-validator runs them in the order they were
 * registered, decorators register bottom-up, and the pipe reports a field's first failure only
 * (stopAtFirstError): written as separate decorators under the type check, `limit=abc` was told
 * it was over the maximum, and `{"password": 12345678}` that it must be 8–128 characters.
 */
export const InOrder = (...checks: PropertyDecorator[]) => applyDecorators(...checks);

/**
 * A name or title: one line shown among others, so no control characters (line breaks, tabs,
 * terminal escapes), no line or paragraph separators (U+2028, U+2029), and none of Unicode's
 * text-direction overrides and isolates (U+202A–U+202E, U+2066–U+2069), with which a name
 * displays as something else ("Trojan Source" spoofing). Any script, and emoji sequences
 * (joined by U+200D), are fine.
 */
export const OneLineName = () =>
  Matches(/^[^\p{Cc}\u2028\u2029\u202A-\u202E\u2066-\u2069]*$/u, {
    message: '$property must not contain control characters or text-direction overrides',
  });

/**
 * Something to see: a name of only spaces and characters that show as nothing (zero-width
 * space, word joiner, Hangul filler: Unicode's default-ignorable code points) looks blank.
 */
export const NotBlank = () =>
  Matches(/[^\p{White_Space}\p{Default_Ignorable_Code_Point}]/u, { message: '$property must not be blank' });

export const ID_MESSAGE = '$property must be an id (a decimal string)';
export { ID_PATTERN };

/** class-validator's words for a field the type does not declare. */
export const unknownField = (name: string) => `property ${name} should not exist`;

/** Unknown fields are refused (no mass assignment); one message per field. */
export const VALIDATION_OPTIONS: ValidationPipeOptions = {
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  stopAtFirstError: true,
  transform: true,
};

/** A body type with a hand-written check, for a route too hot for class-validator. */
export interface CheckedBody {
  /** The body as this type, or a 400 (`BadRequestException`) listing every problem. */
  fromBody(value: unknown): unknown;
}

function isCheckedBody(type: unknown): type is CheckedBody {
  return typeof type === 'function' && typeof (type as Partial<CheckedBody>).fromBody === 'function';
}

/**
 * The one global pipe. Every body, query and path parameter is first refused if it holds a NUL
 * character or is nested too deep; then a body whose type checks itself with a static
 * `fromBody` (a `CheckedBody`) is checked so, and everything else goes through Nest's ValidationPipe (class-transformer,
 * then class-validator's decorators), a field that pipe would let through unreported (named
 * like a member of Object.prototype, or `prototype`) refused as unknown first. One pipe, not
 * two: Nest runs each pipe on each parameter through a chain of promises, a cost paid on
 * every request.
 */
export class AppValidationPipe extends ValidationPipe {
  constructor() {
    super(VALIDATION_OPTIONS);
  }

  // Nest awaits what a pipe returns, so a value checked here is returned as it is, not wrapped
  // in a promise: `any` lets that through the base class's `Promise<any>`.
  override transform(value: unknown, metadata: ArgumentMetadata): any {
    // A custom parameter (the caller from @CurrentUser) is made by the server, not sent by a client.
    if (metadata.type === 'custom') return value;
    assertWithinInputLimits(value);
    const type = metadata.metatype;
    if (metadata.type === 'body' && isCheckedBody(type)) return type.fromBody(value);
    if (this.toValidate(metadata)) refuseNeverReportedFields(value);
    return super.transform(value, metadata);
  }
}

/**
 * Fields that Nest's ValidationPipe would never report as unknown: class-validator's whitelist
 * takes a member of Object.prototype (`toString`, `constructor`) for a declared property, and
 * the pipe deletes `prototype` (with `__proto__` and `constructor`) before validating.
 */
const isNeverReported = (key: string) => key in Object.prototype || key === 'prototype';

function refuseNeverReportedFields(value: unknown): void {
  if (typeof value !== 'object' || value === null) return;
  const names = Object.keys(value).filter(isNeverReported);
  if (names.length > 0) throw new BadRequestException(names.map(unknownField));
}
