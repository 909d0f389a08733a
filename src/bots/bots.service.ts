import { ConflictException, ForbiddenException, Injectable, NotFoundException } from '@nestjs/common';
import { BotTokens, newBotToken } from '../auth/bot-tokens.js';
import type { Caller } from '../common/caller/caller.js';
import { isUniqueViolation } from '../common/pg-errors.js';
import { CloseCode } from '../notifications/frames.js';
import { Notifier } from '../notifications/notifier.js';
import { toUserView } from '../users/user.view.js';
import { UsersService } from '../users/users.service.js';
import type { BotList, BotToken, BotView, CreatedBot } from './bot.views.js';
import type { BotRow } from './bots.repository.js';
import { BotsRepository } from './bots.repository.js';
import type { CreateBotDto } from './dto/create-bot.dto.js';

const NO_BOT = 'Bot not found';

/**
 * Bots that people make for their programs. A bot is a user like any other (it joins
 * conversations, sends, reads); only its token is made here rather than by logging in.
 */
@Injectable()
export class BotsService {
  constructor(
    private readonly bots: BotsRepository,
    private readonly botTokens: BotTokens,
    private readonly notifier: Notifier,
  ) {}

  async create(caller: Caller, dto: CreateBotDto): Promise<CreatedBot> {
    const username = UsersService.normalizeUsername(dto.username);
    const token = newBotToken();
    let row: BotRow | undefined;
    try {
      row = await this.bots.create(caller.id, username, dto.displayName?.trim() || username, this.botTokens.hash(token));
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictException('Username is already taken');
      throw error;
    }
    if (!row) throw new ForbiddenException('Bots cannot own bots');
    return { bot: toBotView(row), token };
  }

  async list(caller: Caller): Promise<BotList> {
    return { items: (await this.bots.listOwned(caller.id)).map(toBotView) };
  }

  /** A new token; the old one is refused from the next request on, and its sockets are closed. */
  async rotateToken(caller: Caller, botId: string): Promise<BotToken> {
    const token = newBotToken();
    const rotated = await this.bots.rotateToken(caller.id, botId, this.botTokens.hash(token));
    if (!rotated) throw new NotFoundException(NO_BOT);
    this.notifier.disconnectSession(botId, rotated.oldSessionId, CloseCode.Unauthorized, 'token replaced');
    return { token };
  }

  async remove(caller: Caller, botId: string): Promise<void> {
    if (!(await this.bots.deactivate(caller.id, botId))) throw new NotFoundException(NO_BOT);
    this.notifier.disconnectUser(botId, CloseCode.Unauthorized, 'deactivated');
  }
}

function toBotView(row: BotRow): BotView {
  return toUserView(row) as BotView;
}
