import { ApiProperty } from '@nestjs/swagger';
import { NEXT_CURSOR_DOC } from '../common/api-docs.js';
import { MessageView } from '../messages/message.view.js';

export class SearchHitView {
  @ApiProperty({ type: MessageView })
  message: MessageView;

  @ApiProperty({
    description: 'The body as HTML: everything HTML-escaped, and each matching word wrapped in `<mark>`…`</mark>`',
    example: 'see you at <mark>lunch</mark> &amp; after',
  })
  highlight: string;
}

export class SearchPage {
  @ApiProperty({ type: [SearchHitView], description: 'Newest first' })
  items: SearchHitView[];

  @ApiProperty(NEXT_CURSOR_DOC)
  nextCursor: string | null;
}
