import { Global, Inject, Module, OnApplicationShutdown, Optional } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { DataSourceOptions } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { connectDatabase } from './connect.js';
import { EmbeddedPostgres } from './embedded-postgres.js';
import { runMigrations } from './migrate.js';
import { typeOrmOptions } from './typeorm-options.js';
import { JOB_QUEUE_CONNECTIONS } from '../jobs/job-queue.js';

/** The embedded PostgreSQL, present only when DATABASE_URL is unset. */
@Global()
@Module({
  providers: [
    {
      provide: EmbeddedPostgres,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) =>
        config.databaseUrl ? null : new EmbeddedPostgres(config.dataDir, config.databasePoolSize + 2 + JOB_QUEUE_CONNECTIONS),
    },
  ],
  exports: [EmbeddedPostgres],
})
class EmbeddedPostgresModule implements OnApplicationShutdown {
  constructor(@Optional() @Inject(EmbeddedPostgres) private readonly embedded: EmbeddedPostgres | null) {}

  async onApplicationShutdown(): Promise<void> {
    await this.embedded?.stop();
  }
}

/** Connects TypeORM (to DATABASE_URL or the embedded server) and applies migrations at start. */
@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      imports: [EmbeddedPostgresModule],
      inject: [APP_CONFIG, EmbeddedPostgres],
      useFactory: async (config: AppConfig, embedded: EmbeddedPostgres | null) => ({
        ...typeOrmOptions(config.databaseUrl ?? (await embedded!.start()), config.databasePoolSize, {
          lockTimeoutMs: config.databaseLockTimeoutMs,
          statementTimeoutMs: config.databaseStatementTimeoutMs,
          idleInTransactionTimeoutMs: config.databaseIdleInTransactionTimeoutMs,
          answerTimeoutMs: config.databaseAnswerTimeoutMs,
        }),
        // The entities each feature module registers with TypeOrmModule.forFeature.
        autoLoadEntities: true,
        // connectDatabase waits for the database itself, one plain line per attempt; TypeORM's
        // retry would log each attempt with a stack, into a log not flushed until start-up ends.
        toRetry: () => false,
        connectAttempts: config.databaseConnectAttempts,
      }),
      dataSourceFactory: async (options) => {
        // connectAttempts rides along with the options: this factory is given nothing else.
        const { connectAttempts, ...dataSourceOptions } = options as DataSourceOptions & { connectAttempts: number };
        const dataSource = await connectDatabase(dataSourceOptions as DataSourceOptions, connectAttempts);
        await runMigrations(dataSource);
        return dataSource;
      },
    }),
  ],
})
export class DatabaseModule {}
