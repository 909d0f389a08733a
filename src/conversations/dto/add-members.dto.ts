import { ApiProperty } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, Matches } from 'class-validator';
import { ID_PATTERN, InOrder } from '../../common/validation.js';
import { MAX_MEMBERS_PER_REQUEST } from './create-conversation.dto.js';

export class AddMembersDto {
  @ApiProperty({ type: [String], minItems: 1, maxItems: 1000, example: ['44'] })
  @InOrder(
    IsArray(),
    ArrayMinSize(1),
    ArrayMaxSize(MAX_MEMBERS_PER_REQUEST),
    Matches(ID_PATTERN, { each: true, message: 'userIds must be ids (decimal strings)' }),
  )
  userIds: string[];
}
