import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LastSeenRecorder } from './last-seen.recorder.js';
import { User } from './user.entity.js';
import { UsersController } from './users.controller.js';
import { UsersRepository } from './users.repository.js';
import { UsersService } from './users.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([User])],
  controllers: [UsersController],
  providers: [UsersRepository, UsersService, LastSeenRecorder],
  // UsersRepository too: the admin API and the first-admin setup apply their own rules to users.
  exports: [UsersRepository, UsersService, LastSeenRecorder],
})
export class UsersModule {}
