import { ApiProperty } from '@nestjs/swagger';
import { IsString } from 'class-validator';

/** `PUT /api/v1/bots/:id/webhook`. */
export class SetWebhookDto {
  @ApiProperty({
    example: 'https://bot.example.com/parley',
    description: '`https` (or `http` where WEBHOOK_ALLOW_HTTP=true); may not resolve to a loopback, private or link-local address',
  })
  @IsString()
  url: string;
}
