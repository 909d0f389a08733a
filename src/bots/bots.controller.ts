import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiAuthenticated, ApiErrors } from '../common/api-docs.js';
import type { AuthUser } from '../common/caller/caller.js';
import { CurrentUser } from '../common/caller/current-user.decorator.js';
import { ParseIdPipe } from '../common/ids.js';
import { TakesNoBody } from '../common/takes-no-body.js';
import { BotList, BotToken, CreatedBot } from './bot.views.js';
import { BotsService } from './bots.service.js';
import { CreateBotDto } from './dto/create-bot.dto.js';
import { SetWebhookDto } from '../webhooks/dto/set-webhook.dto.js';
import { WebhookSet } from '../webhooks/webhook.views.js';
import { WebhooksService } from '../webhooks/webhooks.service.js';

@ApiTags('bots')
@ApiErrors(400)
@ApiAuthenticated()
@Controller('api/v1/bots')
export class BotsController {
  constructor(
    private readonly bots: BotsService,
    private readonly webhooks: WebhooksService,
  ) {}

  @Post()
  @ApiOperation({
    summary: 'Make a bot owned by the caller',
    description:
      'A bot is a user with `bot: true` and `ownerId`. Its token (shown only here) works as `Authorization: Bearer` ' +
      'on every call a user may make and on `/ws`, and never expires. Bots cannot make bots (403).',
  })
  @ApiCreatedResponse({ type: CreatedBot })
  @ApiErrors([403, 'The caller is a bot'], [409, 'Username is already taken'])
  create(@CurrentUser() caller: AuthUser, @Body() dto: CreateBotDto) {
    return this.bots.create(caller, dto);
  }

  @Get()
  @ApiOperation({ summary: 'The caller’s bots' })
  @ApiOkResponse({ type: BotList })
  list(@CurrentUser() caller: AuthUser) {
    return this.bots.list(caller);
  }

  @Post(':id/token')
  @TakesNoBody()
  @ApiOperation({ summary: 'A new token for one of the caller’s bots; the old one stops working at once, on every instance' })
  @ApiCreatedResponse({ type: BotToken })
  @ApiErrors([404, 'The caller has no bot by that id'])
  rotateToken(@CurrentUser() caller: AuthUser, @Param('id', new ParseIdPipe('Bot')) id: string) {
    return this.bots.rotateToken(caller, id);
  }

  @Put(':id/webhook')
  @ApiOperation({
    summary: 'Set where one of the caller’s bots gets its frames: every frame its socket would get, POSTed and signed',
    description:
      'Each frame is POSTed as the JSON body with `Parley-Delivery: <unique id>` and `Parley-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>`. ' +
      'Without a 2xx within 10 s it is tried again with backoff for at least 24 h (at least once: dedupe by `Parley-Delivery`), in order. ' +
      'Typing and presence are not sent. A new URL replaces the old one and gets a new secret.',
  })
  @ApiOkResponse({ type: WebhookSet })
  @ApiErrors([400, 'Not an https URL (or http where allowed), or it resolves to a loopback, private or link-local address'], [404, 'The caller has no bot by that id'])
  setWebhook(@CurrentUser() caller: AuthUser, @Param('id', new ParseIdPipe('Bot')) id: string, @Body() dto: SetWebhookDto) {
    return this.webhooks.set(caller, id, dto.url);
  }

  @Delete(':id/webhook')
  @HttpCode(204)
  @TakesNoBody()
  @ApiOperation({ summary: 'Stop sending one of the caller’s bots its frames; what was waiting is dropped' })
  @ApiNoContentResponse({ description: 'Removed' })
  @ApiErrors([404, 'The caller has no bot by that id with a webhook'])
  removeWebhook(@CurrentUser() caller: AuthUser, @Param('id', new ParseIdPipe('Bot')) id: string) {
    return this.webhooks.remove(caller, id);
  }

  @Delete(':id')
  @HttpCode(204)
  @TakesNoBody()
  @ApiOperation({ summary: 'Deactivate one of the caller’s bots: its token and webhook are gone, its sockets closed' })
  @ApiNoContentResponse({ description: 'Deactivated' })
  @ApiErrors([404, 'The caller has no bot by that id'])
  remove(@CurrentUser() caller: AuthUser, @Param('id', new ParseIdPipe('Bot')) id: string) {
    return this.bots.remove(caller, id);
  }
}
