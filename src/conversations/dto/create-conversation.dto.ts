import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsString,
  Length,
  Matches,
  ValidateIf,
} from 'class-validator';
import { ID_MESSAGE, ID_PATTERN, Trim } from '../../common/validation.js';

export const MAX_MEMBERS_PER_REQUEST = 1000;

/** `{type: "direct", userId}` or `{type: "group", title, memberIds}`. */
export class CreateConversationDto {
  @IsIn(['direct', 'group'])
  type: 'direct' | 'group';

  @ValidateIf((dto: CreateConversationDto) => dto.type === 'direct' || dto.userId !== undefined)
  @IsString()
  @Matches(ID_PATTERN, { message: ID_MESSAGE })
  userId?: string;

  @ValidateIf((dto: CreateConversationDto) => dto.type === 'group' || dto.title !== undefined)
  @Trim()
  @IsString()
  @Length(1, 200)
  title?: string;

  @ValidateIf((dto: CreateConversationDto) => dto.type === 'group' || dto.memberIds !== undefined)
  @IsArray()
  @ArrayMaxSize(MAX_MEMBERS_PER_REQUEST)
  @Matches(ID_PATTERN, { each: true, message: 'memberIds must be ids (decimal strings)' })
  memberIds?: string[];
}
