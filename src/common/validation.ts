import { type ArgumentMetadata, BadRequestException, ValidationPipe, type ValidationPipeOptions, applyDecorators } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { IsISO8601, IsInt, IsString, Matches, Max, Min, ValidateBy, ValidateIf } from 'class-validator';
import { ID_PATTERN } from './ids.js';
import { assertWithinInputLimits } from './input-limits.js';
import { textProblem, type TextKind } from './text-rules.js';

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

/**
 * A point in time: an ISO 8601 calendar date with a four-digit year, and a time of day with an
 * optional zone (`2026-12-01`, `2026-12-01T09:30:00Z`). ISO 8601 also has week and ordinal
 * dates and signed years, which PostgreSQL does not read: those would fail in the database.
 */
export const Timestamp = () =>
  InOrder(
    IsString(),
    IsISO8601({ strict: true }),
    Matches(/^(?!0000)\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$/, {
      message: '$property must be a date, or a date and time, such as 2026-12-01 or 2026-12-01T09:30:00Z',
    }),
  );

/**
 * A field that may be left out but, when given, must be valid: unlike `IsOptional`, an explicit
 * `null` is checked (and refused) rather than taken as "not given".
 */
export const Omittable = () => ValidateIf((_object, value) => value !== undefined);

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
 * Free text: a message body (`body`) or a name or title (`line`), held to the one rule set of
 * src/common/text-rules.ts (no direction overrides, not blank, one line where a line).
 */
export const FreeText = (kind: TextKind) =>
  ValidateBy({
    name: 'freeText',
    validator: {
      validate: (value) => typeof value !== 'string' || textProblem(value, kind) === undefined,
      defaultMessage: (args) => `${args?.property} ${textProblem(String(args?.value), kind)}`,
    },
  });

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
