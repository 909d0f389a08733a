// First: V8 flags that must be set before the rest of the server allocates anything.
import './common/hot-path/v8-flags.js';
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { StartupError } from './common/startup-error.js';
import { ConfigError, loadConfig, type AppConfig } from './config/app-config.js';
import { keptJwtSecret } from './config/kept-secret.js';

const SHUTDOWN_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

async function bootstrap(): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`Configuration error: ${error.message}`);
    process.exit(1);
  }
  // Loaded only once the configuration is known to be good: a bad setting fails at once.
  const { createApp } = await import('./app.setup.js');
  let app: Awaited<ReturnType<typeof createApp>>;
  try {
    if (!config.databaseUrl && !process.env.JWT_SECRET) config = { ...config, jwtSecret: await keptJwtSecret(config.dataDir) };
    app = await createApp(config);
  } catch (error) {
    if (error instanceof StartupError) console.error(`Start-up error: ${error.message}`);
    // Anything else is a bug: the lines held back during start-up, its stack among them.
    else Logger.flush();
    process.exit(1);
  }
  const logger = new Logger('Parley');
  // On SIGTERM or SIGINT: new requests get 503, sockets are closed with 1001, in-flight
  // requests finish, the HTTP server and then the database pool close, and the process exits 0
  // (through process.exit, so pino's buffers are flushed).
  app.enableShutdownHooks([...SHUTDOWN_SIGNALS], { useProcessExit: true });
  let stopping = false;
  for (const signal of SHUTDOWN_SIGNALS) {
    process.on(signal, () => {
      if (stopping) {
        logger.warn(`${signal} again: exiting without finishing the shutdown`);
        process.exit(1);
      }
      stopping = true;
      logger.log(`${signal}: shutting down`);
      setTimeout(() => {
        logger.error(`Shutdown took longer than SHUTDOWN_TIMEOUT_MS (${config.shutdownTimeoutMs} ms); exiting`);
        process.exit(1);
      }, config.shutdownTimeoutMs).unref();
    });
  }
  try {
    await app.listen(config.port, config.host);
  } catch (error) {
    // The metrics listener (METRICS_PORT) opens as the application starts, before PORT.
    const reason = LISTEN_ERRORS[(error as NodeJS.ErrnoException).code ?? ''];
    if (!reason && !(error instanceof StartupError)) throw error;
    console.error(reason ? `Start-up error: cannot listen on ${config.host}:${config.port}: ${reason}` : `Start-up error: ${(error as Error).message}`);
    await app.close();
    process.exit(1);
  }
  logger.log(`Listening on ${await app.getUrl()} (WebSocket at /ws, API documentation at /docs)`);
}

/** Why HOST and PORT cannot be listened on, as one line instead of a stack trace. */
const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: 'the port is in use (PORT)',
  EADDRNOTAVAIL: 'this machine has no such address (HOST)',
  ENOTFOUND: 'no such host (HOST)',
  EACCES: 'not permitted (ports below 1024 need privileges)',
};

void bootstrap();
