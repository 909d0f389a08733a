import { ApiProperty } from '@nestjs/swagger';
import { IsBoolean } from 'class-validator';

/** `PATCH /api/v1/conversations/:id/settings`: the caller's own settings of a conversation. */
export class ConversationSettingsDto {
  @ApiProperty({ description: 'true: no Web Push notifications of this conversation for the caller' })
  @IsBoolean()
  muted: boolean;
}
