import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

export type ConversationType = 'direct' | 'group';

@Entity('conversations')
export class Conversation {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id: string;

  @Column('text')
  type: ConversationType;

  @Column('text', { nullable: true })
  title: string | null;

  @Column('bigint', { name: 'owner_id', nullable: true })
  ownerId: string | null;

  @Column('text', { name: 'direct_key', nullable: true })
  directKey: string | null;

  @Column('bigint', { name: 'last_seq' })
  lastSeq: string;

  @Column('bigint', { name: 'last_change_seq' })
  lastChangeSeq: string;

  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;

  @Column('timestamptz', { name: 'updated_at' })
  updatedAt: Date;
}
