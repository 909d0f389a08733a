import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsString,
  Length,
  Matches,
  ValidateIf,
} from 'class-validator';
import { ID_MESSAGE, ID_PATTERN, InOrder, OneLineName, Trim } from '../../common/validation.js';

export const MAX_MEMBERS_PER_REQUEST = 1000;

/** `{type: "direct", userId}` or `{type: "group", title, memberIds}`. */
export class CreateConversationDto {
  @ApiProperty({ enum: ['direct', 'group'] })
  @IsIn(['direct', 'group'])
  type: 'direct' | 'group';

  @ApiPropertyOptional({ description: 'direct: the other user', example: '43' })
  @ValidateIf((dto: CreateConversationDto) => dto.type === 'direct' || dto.userId !== undefined)
  @IsString()
  @Matches(ID_PATTERN, { message: ID_MESSAGE })
  userId?: string;

  @ApiPropertyOptional({ description: 'group: its title (one line: no control characters or text-direction overrides)', minLength: 1, maxLength: 200, example: 'team' })
  @ValidateIf((dto: CreateConversationDto) => dto.type === 'group' || dto.title !== undefined)
  @Trim()
  @InOrder(IsString(), Length(1, 200), OneLineName())
  title?: string;

  @ApiPropertyOptional({ type: [String], maxItems: 1000, description: 'group: the other members (the caller joins as owner)', example: ['43', '44'] })
  @ValidateIf((dto: CreateConversationDto) => dto.type === 'group' || dto.memberIds !== undefined)
  @InOrder(IsArray(), ArrayMaxSize(MAX_MEMBERS_PER_REQUEST), Matches(ID_PATTERN, { each: true, message: 'memberIds must be ids (decimal strings)' }))
  memberIds?: string[];
}
