import { ApiProperty } from '@nestjs/swagger';
import { UserView } from '../users/user.view.js';

/** What register and login answer. */
export class Session {
  @ApiProperty({ type: UserView })
  user: UserView;

  @ApiProperty({ description: 'Send as `Authorization: Bearer <accessToken>`' })
  accessToken: string;
}

export class WsTicket {
  @ApiProperty({ description: 'Open `/ws?ticket=<ticket>` with it: single use' })
  ticket: string;

  @ApiProperty({ type: String, format: 'date-time', description: 'At most 60 s from now' })
  expiresAt: Date;
}
