/**
 * A V8 CPU profile of one measured window of this process (not its start-up), for
 * `BENCH_CPU_PROF=<dir>`: open it in Chrome DevTools or speedscope.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { join } from 'node:path'

/** Starts profiling when `dir` is set; the returned function stops and writes `<name>.cpuprofile`. */
export async function profileWindow(dir: string | undefined, name: string): Promise<() => Promise<void>> {
  if (dir === undefined || dir === '') return async () => {}
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.start')
  return async () => {
    const { profile } = await session.post('Profiler.stop')
    session.disconnect()
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, `${name}.cpuprofile`), JSON.stringify(profile))
  }
}
