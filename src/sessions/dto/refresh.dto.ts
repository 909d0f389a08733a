import { ApiProperty } from '@nestjs/swagger';
import { IsString, Length } from 'class-validator';
import { InOrder } from '../../common/validation.js';

export class RefreshDto {
  @ApiProperty({ description: 'The refresh token from login, register or the last refresh', minLength: 1, maxLength: 128 })
  @InOrder(IsString(), Length(1, 128))
  refreshToken: string;
}
