import { ApiProperty } from '@nestjs/swagger';
import type { PresenceStatus } from '../notifications/frames.js';

/** One user's presence, as `GET /api/v1/presence` answers it. */
export class PresenceView {
  @ApiProperty({ example: '42' })
  userId: string;

  @ApiProperty({ enum: ['online', 'offline'] })
  status: PresenceStatus;

  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'When the user was last online (now, for an online user); null if unknown or not shared',
  })
  lastSeenAt: string | null;
}

export class PresenceList {
  @ApiProperty({ type: [PresenceView], description: 'In the order asked; users who share no conversation with the caller are left out' })
  items: PresenceView[];
}
