import v8 from 'node:v8';

/**
 * V8 settings for the server process; main.ts imports this first, before anything allocates.
 *
 * Allocation-site pretenuring off. When most objects from one allocation site survive their
 * first garbage collection, V8 starts allocating that site's objects straight in the old
 * generation. Under load, one site here (one object per message) sometimes crossed that line
 * in a process's first seconds, and then stayed there: its objects, dead soon after but
 * collected only by a full collection, held the young objects they point at through every
 * scavenge, so those were promoted too. Such a process scavenged 22% of its young objects
 * instead of 2%, spent 3–6 ms a scavenge instead of about 1, ran two to three times the full
 * collections, and used about a quarter more CPU a message, for as long as it ran. It happened
 * to 11 of 30 bench server processes started alike; with pretenuring off, to none of 16
 * (README, Performance, change 22). Long-lived objects are then copied once or twice more
 * before they reach the old generation, which costs little where nearly everything dies young.
 */
v8.setFlagsFromString('--no-allocation-site-pretenuring');
