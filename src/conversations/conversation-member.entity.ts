import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity('conversation_members')
export class ConversationMember {
  @PrimaryColumn('bigint', { name: 'conversation_id' })
  conversationId: string;

  @PrimaryColumn('bigint', { name: 'user_id' })
  userId: string;

  @Column('bigint', { name: 'last_read_seq' })
  lastReadSeq: string;

  @Column('timestamptz', { name: 'joined_at' })
  joinedAt: Date;
}
