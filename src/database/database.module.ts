import { Global, Inject, Module, OnApplicationShutdown, Optional } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { EmbeddedPostgres } from './embedded-postgres.js';
import { PreparedQueries } from './prepared-queries.js';
import { runMigrations } from './migrate.js';
import { typeOrmOptions } from './typeorm-options.js';

/** The embedded PostgreSQL, present only when DATABASE_URL is unset. */
@Global()
@Module({
  providers: [
    {
      provide: EmbeddedPostgres,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) =>
        config.databaseUrl ? null : new EmbeddedPostgres(config.dataDir, config.databasePoolSize + 2),
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
      useFactory: async (config: AppConfig, embedded: EmbeddedPostgres | null) =>
        typeOrmOptions(config.databaseUrl ?? (await embedded!.start()), config.databasePoolSize, {
          lockTimeoutMs: config.databaseLockTimeoutMs,
          statementTimeoutMs: config.databaseStatementTimeoutMs,
          idleInTransactionTimeoutMs: config.databaseIdleInTransactionTimeoutMs,
          answerTimeoutMs: config.databaseAnswerTimeoutMs,
        }),
      dataSourceFactory: async (options) => {
        const dataSource = await new DataSource(options!).initialize();
        await runMigrations(dataSource);
        return dataSource;
      },
    }),
  ],
  providers: [PreparedQueries],
  exports: [PreparedQueries],
})
export class DatabaseModule {}
