import { ApiProperty } from '@nestjs/swagger';

/** The contract's `attachment`. */
export class AttachmentView {
  @ApiProperty({ example: '88' })
  id: string;

  @ApiProperty({ example: 'holiday.jpg', description: 'As uploaded, cleaned of path parts and control characters' })
  filename: string;

  @ApiProperty({ example: 'image/jpeg', description: 'What the bytes are (sniffed), not what the client claimed' })
  contentType: string;

  @ApiProperty({ example: 183204, description: 'Bytes' })
  size: number;

  @ApiProperty({ type: Number, nullable: true, example: 1600, description: 'Pixels, upright; null for non-images' })
  width: number | null;

  @ApiProperty({ type: Number, nullable: true, example: 1200, description: 'Pixels, upright; null for non-images' })
  height: number | null;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;

  @ApiProperty({
    example: '/api/v1/attachments/88/content?user=42&expires=1767225600&signature=…',
    description: 'The bytes, signed for the caller: works without an Authorization header (for `<img src>`), expires within an hour. A path on this server',
  })
  url: string;

  @ApiProperty({ type: String, nullable: true, description: 'A WebP at most 320 px on its longer side, signed as `url`; null for non-images' })
  thumbnailUrl: string | null;
}

/** An attachment as a message's read gives it (see ATTACHMENTS_OF_MESSAGE), or as an upload stores it. */
export interface AttachmentFacts {
  id: string;
  filename: string;
  contentType: string;
  size: number | string;
  width: number | null;
  height: number | null;
  createdAt: Date | string;
  hasThumbnail: boolean;
}
