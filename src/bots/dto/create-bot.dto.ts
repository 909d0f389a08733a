import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { FreeText, InOrder } from '../../common/validation.js';

/** `POST /api/v1/bots`: a bot's username follows the rules of a person's. */
export class CreateBotDto {
  @ApiProperty({ pattern: '^[A-Za-z0-9_.-]{3,32}$', description: 'Case-insensitive (stored lower-cased), unique among all users', example: 'echo-bot' })
  @InOrder(IsString(), Matches(/^[A-Za-z0-9_.-]{3,32}$/, { message: 'username must be 3–32 characters of a-z 0-9 _ . -' }))
  username: string;

  @ApiPropertyOptional({ maxLength: 64, description: 'Defaults to the username. One line: no control characters or text-direction overrides', example: 'Echo' })
  @IsOptional()
  @InOrder(IsString(), MaxLength(64), FreeText('line'))
  displayName?: string;
}
