import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsString,
  Length,
  Matches,
  ValidateBy,
  ValidateIf,
} from 'class-validator';
import { FreeText, ID_MESSAGE, ID_PATTERN, InOrder, Trim } from '../../common/validation.js';

export const MAX_MEMBERS_PER_REQUEST = 1000;

type ConversationType = CreateConversationDto['type'];

/** A field of one type of conversation, refused in the other (unknown fields are refused too). */
const OnlyFor = (type: ConversationType) =>
  ValidateBy({
    name: 'onlyFor',
    validator: {
      validate: (_value, args) => (args?.object as CreateConversationDto).type !== (type === 'direct' ? 'group' : 'direct'),
      defaultMessage: (args) => `${args?.property} is only for ${type} conversations`,
    },
  });

/** `{type: "direct", userId}` or `{type: "group", title, memberIds}`. */
export class CreateConversationDto {
  @ApiProperty({ enum: ['direct', 'group'] })
  @IsIn(['direct', 'group'])
  type: 'direct' | 'group';

  @ApiPropertyOptional({ description: 'direct: the other user', example: '43' })
  @ValidateIf((dto: CreateConversationDto) => dto.type === 'direct' || dto.userId !== undefined)
  @InOrder(OnlyFor('direct'), IsString(), Matches(ID_PATTERN, { message: ID_MESSAGE }))
  userId?: string;

  @ApiPropertyOptional({ description: 'group: its title (one line: no control characters or text-direction overrides)', minLength: 1, maxLength: 200, example: 'team' })
  @ValidateIf((dto: CreateConversationDto) => dto.type === 'group' || dto.title !== undefined)
  @Trim()
  @InOrder(OnlyFor('group'), IsString(), Length(1, 200), FreeText('line'))
  title?: string;

  @ApiPropertyOptional({ type: [String], maxItems: 1000, description: 'group: the other members (the caller joins as owner)', example: ['43', '44'] })
  @ValidateIf((dto: CreateConversationDto) => dto.type === 'group' || dto.memberIds !== undefined)
  @InOrder(OnlyFor('group'), IsArray(), ArrayMaxSize(MAX_MEMBERS_PER_REQUEST), Matches(ID_PATTERN, { each: true, message: 'memberIds must be ids (decimal strings)' }))
  memberIds?: string[];
}
