import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

@Entity('messages')
export class Message {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id: string;

  @Column('bigint', { name: 'conversation_id' })
  conversationId: string;

  @Column('bigint')
  seq: string;

  /** The conversation's change counter when this message last changed (sent, edited, deleted). */
  @Column('bigint', { name: 'change_seq' })
  changeSeq: string;

  @Column('bigint', { name: 'sender_id' })
  senderId: string;

  /** Null once deleted: the message stays in history as a tombstone. */
  @Column('text', { nullable: true })
  body: string | null;

  @Column('text', { name: 'client_message_id', nullable: true })
  clientMessageId: string | null;

  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;

  @Column('timestamptz', { name: 'edited_at', nullable: true })
  editedAt: Date | null;

  @Column('timestamptz', { name: 'deleted_at', nullable: true })
  deletedAt: Date | null;
}
