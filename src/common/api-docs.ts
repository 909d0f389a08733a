import { applyDecorators } from '@nestjs/common';
import { ApiBearerAuth, ApiProperty, ApiResponse } from '@nestjs/swagger';

/** The contract's one error shape, for the OpenAPI document. */
export class ErrorResponse {
  @ApiProperty({ example: 400 })
  statusCode: number;

  @ApiProperty({ example: 'Bad Request' })
  error: string;

  @ApiProperty({
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    example: 'body must be 1–4000 characters after trimming',
  })
  message: string | string[];
}

const DEFAULT_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid body, query parameter or cursor, or an unknown field',
  401: 'No valid access token (missing, expired, revoked, or its user deactivated)',
  403: 'The caller may not do this',
  404: 'Not found, or not visible to the caller',
  409: 'Conflicts with the current state',
  413: 'Body larger than 64 KiB',
  415: 'Body is not JSON',
  429: 'Rate limit exceeded; see Retry-After',
  503: 'The database is unavailable; see Retry-After',
};

/** An error answer as the OpenAPI document gives it, for answers added to the document by hand. */
export function errorResponseDoc(status: number) {
  return { description: DEFAULT_DESCRIPTIONS[status], content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorResponse' } } } };
}

/** Documents error answers: a status, or a status with the route's own description. */
export function ApiErrors(...errors: (number | [number, string])[]) {
  return applyDecorators(
    ...errors.map((error) => {
      const [status, description] = Array.isArray(error) ? error : [error, DEFAULT_DESCRIPTIONS[error]];
      return ApiResponse({ status, description, type: ErrorResponse });
    }),
  );
}

/** A route that needs `Authorization: Bearer <accessToken>`. */
export function ApiAuthenticated() {
  return applyDecorators(ApiBearerAuth(), ApiErrors(401, 503));
}

/** A keyset-paginated list's `nextCursor`, documented once. */
export const NEXT_CURSOR_DOC = {
  type: String,
  nullable: true,
  description: 'Pass as `cursor` for the next page; null on the last page',
} as const;
