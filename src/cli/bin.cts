#!/usr/bin/env node
/**
 * The `horus` command. CommonJS on purpose, and nothing else in this file: libuv sizes its thread
 * pool once, when the first piece of work is queued, from `UV_THREADPOOL_SIZE` in the environment
 * — and an ES module entry has queued its own file reads by the time its first line runs. Here
 * the pool is not started yet, so the size can still be chosen.
 *
 * Why not libuv's 4: a node's pool runs LevelDB's reads and writes (classic-level queues each as
 * N-API async work), and glibc gives every thread that allocates its own malloc arena, so each
 * pool thread keeps memtable blocks and freed space of its own (BENCHMARKS.md, "The pool size and
 * malloc's arenas"). A user's own `UV_THREADPOOL_SIZE` always wins.
 */
import fs = require('node:fs')

/** libuv's thread pool size of a `horus` process unless `UV_THREADPOOL_SIZE` is set. */
const DEFAULT_THREADPOOL_SIZE = 2

if (process.env.UV_THREADPOOL_SIZE === undefined) {
  process.env.UV_THREADPOOL_SIZE = String(DEFAULT_THREADPOOL_SIZE)
  // Queuing a first piece of work starts the pool, synchronously, with the size just set; then
  // the variable goes again, so what the node spawns (job scripts, plugins) gets the user's
  // environment as it was, not the node's own setting.
  fs.stat(__filename, () => {})
  delete process.env.UV_THREADPOOL_SIZE
}

void import('./entry.js')
