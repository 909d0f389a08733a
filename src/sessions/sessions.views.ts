import { ApiProperty } from '@nestjs/swagger';

export class SessionView {
  @ApiProperty({ example: '42' })
  id: string;

  @ApiProperty({ type: String, format: 'date-time', description: 'When the session was opened (login or register)' })
  createdAt: Date;

  @ApiProperty({ type: String, format: 'date-time', description: 'When its refresh token was last used' })
  lastUsedAt: Date;

  @ApiProperty({ type: String, nullable: true, description: 'The User-Agent of the login, cut to 256 characters' })
  userAgent: string | null;

  @ApiProperty({ description: 'The session of the access token that asked' })
  current: boolean;
}

export class SessionList {
  @ApiProperty({ type: [SessionView], description: 'The caller’s live sessions, most recently used first' })
  items: SessionView[];
}
