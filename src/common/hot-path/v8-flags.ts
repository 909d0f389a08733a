import v8 from 'node:v8';

/**
 * V8 settings for the server process; main.ts imports this first, before anything allocates.
 *
 * Allocation-site pretenuring off. When most objects from one allocation site survive their
 * first garbage collection, V8 starts allocating that site's objects straight in the old
 * generation. Under load, one site here (one object per message) sometimes crossed that line
 * in a process's first seconds, and then stayed there: its objects, dead soon after but
 * collected only by a full collection, held the young objects they point at through every
 * scavenge, so those were promoted too, and the process ran slower for as long as it ran: a
 * measured gain in consistency (README.md in this folder). Long-lived objects are then copied
 * once or twice more before they reach the old generation, which costs little where nearly
 * everything dies young.
 */
v8.setFlagsFromString('--no-allocation-site-pretenuring');
