import { Body, Controller, Delete, Get, HttpCode, Param, Post, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ApiAuthenticated, ApiErrors } from '../common/api-docs.js';
import type { AuthUser } from '../common/caller/caller.js';
import { CurrentUser } from '../common/caller/current-user.decorator.js';
import { ParseIdPipe } from '../common/ids.js';
import { TakesNoBody } from '../common/takes-no-body.js';
import { SubscribeDto } from './dto/subscribe.dto.js';
import { PushService } from './push.service.js';

class VapidPublicKey {
  @ApiProperty({ description: "The server's VAPID public key, URL-safe base64: a browser's `applicationServerKey`" })
  publicKey: string;
}

class SubscriptionId {
  @ApiProperty({ example: '12' })
  id: string;
}

@ApiTags('push')
@Controller('api/v1/push')
export class PushController {
  constructor(private readonly push: PushService) {}

  @Get('vapid-public-key')
  @ApiAuthenticated()
  @ApiOperation({ summary: 'The key a browser subscribes to this server’s pushes with' })
  @ApiOkResponse({ type: VapidPublicKey })
  publicKey() {
    return this.push.publicKey();
  }

  @Post('subscriptions')
  @ApiAuthenticated()
  @ApiOperation({
    summary: 'Receive Web Push notifications in this browser',
    description:
      'The body is the browser’s `PushSubscription.toJSON()`. When a message is committed, each member other than the sender ' +
      'with no open socket and the conversation not muted gets a push on each subscription, payload the `message.created` frame ' +
      '(ids only). The endpoint follows the rules of a webhook URL (https, no private address).',
  })
  @ApiCreatedResponse({ type: SubscriptionId, description: 'Subscribed' })
  @ApiOkResponse({ type: SubscriptionId, description: 'The endpoint was subscribed already (now for the caller)' })
  @ApiErrors([400, 'Invalid subscription, or an endpoint that is not https or points at a private address'])
  async subscribe(@CurrentUser() caller: AuthUser, @Body() dto: SubscribeDto, @Res({ passthrough: true }) reply: FastifyReply) {
    const { id, created } = await this.push.subscribe(caller.id, dto);
    reply.status(created ? 201 : 200);
    return { id };
  }

  @Delete('subscriptions/:id')
  @HttpCode(204)
  @TakesNoBody()
  @ApiAuthenticated()
  @ApiOperation({ summary: 'Stop pushes to one of the caller’s subscriptions' })
  @ApiNoContentResponse({ description: 'Removed' })
  @ApiErrors(400, [404, 'The caller has no subscription by that id'])
  unsubscribe(@CurrentUser() caller: AuthUser, @Param('id', new ParseIdPipe('Subscription')) id: string) {
    return this.push.unsubscribe(caller.id, id);
  }
}
