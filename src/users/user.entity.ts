import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { Role } from '../common/caller/role.js';

@Entity('users')
export class User {
  // bigint columns come back from `pg` as strings: ids are opaque strings in the API too.
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id: string;

  @Column('text')
  username: string;

  @Column('text', { name: 'display_name' })
  displayName: string;

  @Column('text', { name: 'password_hash', select: false })
  passwordHash: string;

  @Column('text')
  role: Role;

  @Column('boolean')
  active: boolean;

  @Column('integer', { name: 'token_version' })
  tokenVersion: number;

  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;

  @Column('timestamptz', { name: 'last_seen_at', nullable: true })
  lastSeenAt: Date | null;

  @Column('boolean', { name: 'share_read_receipts' })
  shareReadReceipts: boolean;

  @Column('boolean', { name: 'share_presence' })
  sharePresence: boolean;

  /** A bot: calls with a bot token, made and owned by `ownerId`. */
  @Column('boolean')
  bot: boolean;

  @Column('bigint', { name: 'owner_id', nullable: true })
  ownerId: string | null;
}
