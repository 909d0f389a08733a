import { ApiProperty } from '@nestjs/swagger';
import { SelfView } from '../users/user.view.js';

/** An access token, the refresh token that renews it, and when the access token expires. */
export class TokenPair {
  @ApiProperty({ description: 'Send as `Authorization: Bearer <accessToken>`' })
  accessToken: string;

  @ApiProperty({
    description: 'Exchange at `POST /api/v1/auth/refresh` for a new pair: single use. Presenting a used one again ends the session',
  })
  refreshToken: string;

  @ApiProperty({ type: String, format: 'date-time', description: 'When the access token expires' })
  expiresAt: Date;
}

/** What register and login answer. */
export class Session extends TokenPair {
  @ApiProperty({ type: SelfView })
  user: SelfView;
}

export class WsTicket {
  @ApiProperty({ description: 'Open `/ws?ticket=<ticket>` with it: single use' })
  ticket: string;

  @ApiProperty({ type: String, format: 'date-time', description: 'At most 60 s from now' })
  expiresAt: Date;
}
