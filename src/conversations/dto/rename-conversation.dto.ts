import { ApiProperty } from '@nestjs/swagger';
import { IsString, Length } from 'class-validator';
import { FreeText, InOrder, Trim } from '../../common/validation.js';

/** `PATCH /api/v1/conversations/:id`: a group's new title, held to the same rules as at creation. */
export class RenameConversationDto {
  @ApiProperty({ description: 'The new title (one line: no control characters or text-direction overrides)', minLength: 1, maxLength: 200, example: 'team' })
  @Trim()
  @InOrder(IsString(), Length(1, 200), FreeText('line'))
  title: string;
}
