import { ApiProperty } from '@nestjs/swagger';

/** A bot: a `user` (UserView's fields) with `bot: true` and `ownerId`, both always present. */
export class BotView {
  @ApiProperty({ example: '42' })
  id: string;

  @ApiProperty({ example: 'echo-bot' })
  username: string;

  @ApiProperty({ example: 'Echo' })
  displayName: string;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;

  @ApiProperty({ enum: [true] })
  bot: true;

  @ApiProperty({ example: '7', description: 'The user who made the bot' })
  ownerId: string;
}

export class BotToken {
  @ApiProperty({ description: 'Shown once: send it as `Authorization: Bearer <token>`. It never expires; a new one replaces it', example: 'pbt_…' })
  token: string;
}

export class CreatedBot extends BotToken {
  @ApiProperty({ type: BotView })
  bot: BotView;
}

export class BotList {
  @ApiProperty({ type: [BotView] })
  items: BotView[];
}
