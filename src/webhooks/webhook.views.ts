import { ApiProperty } from '@nestjs/swagger';

export class WebhookSet {
  @ApiProperty({ example: 'https://bot.example.com/parley' })
  url: string;

  @ApiProperty({ description: 'Shown once: the key of `Parley-Signature` (HMAC-SHA256 of "<t>.<body>")', example: 'whsec_…' })
  secret: string;
}

/** A webhook's health, for the admin. */
export class WebhookHealth {
  @ApiProperty({ example: '42' })
  botId: string;

  @ApiProperty({ example: 'echo-bot' })
  username: string;

  @ApiProperty({ example: '7', nullable: true, type: String })
  ownerId: string | null;

  @ApiProperty()
  url: string;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;

  @ApiProperty({ format: 'date-time', nullable: true, type: String })
  lastSuccessAt: string | null;

  @ApiProperty({ format: 'date-time', nullable: true, type: String })
  lastFailureAt: string | null;

  @ApiProperty({ nullable: true, type: String, description: 'Why the last attempt failed' })
  lastError: string | null;

  @ApiProperty({ description: 'Failed attempts since the last success' })
  failuresInARow: number;

  @ApiProperty({ description: 'Frames waiting to be delivered' })
  waiting: number;

  @ApiProperty({ description: 'Frames given up on after failing for more than a day' })
  deadLetters: number;
}

export class WebhookHealthList {
  @ApiProperty({ type: [WebhookHealth] })
  items: WebhookHealth[];
}
