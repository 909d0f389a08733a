import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';

/** The query string of a signed link (AttachmentLinks): all three, or none with a bearer token. */
export class LinkQueryDto {
  @ApiPropertyOptional({ description: 'Of a signed link: the user it was made for' })
  @IsOptional()
  @IsString()
  @MaxLength(32)
  user?: string;

  @ApiPropertyOptional({ description: 'Of a signed link: when it expires (seconds since the epoch)' })
  @IsOptional()
  @IsString()
  @MaxLength(32)
  expires?: string;

  @ApiPropertyOptional({ description: 'Of a signed link: its signature' })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  signature?: string;
}
