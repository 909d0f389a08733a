import { ApiProperty } from '@nestjs/swagger';
import { IsString, Length } from 'class-validator';
import { Trim } from '../../common/validation.js';
import { MAX_BODY_LENGTH } from './send-message.dto.js';

export class EditMessageDto {
  @ApiProperty({ minLength: 1, maxLength: 4000, description: '1–4000 characters after trimming' })
  @Trim()
  @IsString()
  @Length(1, MAX_BODY_LENGTH, { message: `body must be 1–${MAX_BODY_LENGTH} characters after trimming` })
  body: string;
}
