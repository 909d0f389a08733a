/**
 * A reason the process cannot start that its operator must fix (the database unreachable, the
 * embedded database's directory unusable or in use): main.ts and the CLI print its message as
 * one line and exit 1, where any other error is a bug and keeps its stack.
 */
export class StartupError extends Error {}
