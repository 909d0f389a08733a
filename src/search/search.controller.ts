import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiAuthenticated, ApiErrors } from '../common/api-docs.js';
import type { AuthUser } from '../common/caller/caller.js';
import { CurrentUser } from '../common/caller/current-user.decorator.js';
import { SearchMessagesQuery } from './dto/search-messages.query.js';
import { SearchService } from './search.service.js';
import { SearchPage } from './search.views.js';

@ApiTags('search')
@ApiAuthenticated()
@Controller('api/v1/search')
export class SearchController {
  constructor(private readonly search: SearchService) {}

  @Get('messages')
  @ApiOperation({
    summary: "Full-text search of the caller's conversations",
    description:
      'Messages of the conversations the caller is a member of whose body matches `q`, newest first, each with `highlight` (the body HTML-escaped, matches in `<mark>`). Deleted messages never match.',
  })
  @ApiOkResponse({ type: SearchPage })
  @ApiErrors(400, [404, 'conversationId names a conversation the caller is not a member of, or none'])
  messages(@CurrentUser() caller: AuthUser, @Query() query: SearchMessagesQuery) {
    return this.search.messages(caller.id, query);
  }
}
