import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Length, Matches, MaxLength } from 'class-validator';
import { FreeText, InOrder } from '../../common/validation.js';

export class RegisterDto {
  /** 3–32 of a-z 0-9 _ . - (case-insensitive: stored lower-cased). */
  @ApiProperty({ pattern: '^[A-Za-z0-9_.-]{3,32}$', description: 'Case-insensitive (stored lower-cased), unique', example: 'alice' })
  @InOrder(IsString(), Matches(/^[A-Za-z0-9_.-]{3,32}$/, { message: 'username must be 3–32 characters of a-z 0-9 _ . -' }))
  username: string;

  @ApiProperty({ minLength: 8, maxLength: 128, format: 'password' })
  @InOrder(IsString(), Length(8, 128, { message: 'password must be 8–128 characters' }))
  password: string;

  @ApiPropertyOptional({ maxLength: 64, description: 'Defaults to the username. One line: no control characters or text-direction overrides', example: 'Alice' })
  @IsOptional()
  @InOrder(IsString(), MaxLength(64), FreeText('line'))
  displayName?: string;
}
