import { ApiProperty } from '@nestjs/swagger';
import { IsString, MaxLength } from 'class-validator';
import { InOrder } from '../../common/validation.js';

export class LoginDto {
  @ApiProperty({ maxLength: 64, example: 'alice' })
  @InOrder(IsString(), MaxLength(64))
  username: string;

  @ApiProperty({ maxLength: 128, format: 'password' })
  @InOrder(IsString(), MaxLength(128))
  password: string;
}
