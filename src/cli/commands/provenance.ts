/**
 * `horus workflow export` (the run's provenance bundle, over the mesh) and `horus workflow verify`
 * (the bundle checked offline: no mesh, no node, no config).
 */
import type { HorusClient } from '../../client/horus-client.js'
import { type RunBundleReport, verifyRunBundle } from '../../roles/coordinator/provenance/index.js'
import { EXIT } from '../errors.js'
import type { Output } from '../output.js'
import { readTextInput } from '../read-input.js'

export async function exportBundle(client: HorusClient, runId: string, out: Output): Promise<number> {
  out.json(await client.exportRun(runId))
  return EXIT.ok
}

export async function verifyBundle(
  file: string,
  options: { submitter?: string; json: boolean },
  out: Output,
): Promise<number> {
  const text = await readTextInput(file, 'workflow verify')
  const report = verifyRunBundle(
    text,
    options.submitter === undefined ? {} : { submitter: options.submitter },
  )
  if (options.json) out.json(report)
  else printReport(report, out)
  return report.ok ? EXIT.ok : EXIT.failed
}

function printReport(report: RunBundleReport, out: Output): void {
  const counts = `${report.steps} steps, ${report.jobs} jobs, ${report.results} results, ${report.verifiedOutputs} outputs traced to signed results`
  if (report.ok) {
    out.line(`verified: run ${report.runId} (${counts}); submitted by ${report.submitter}`)
    printNotProven(report, out)
    return
  }
  const failures = report.failures.length + report.moreFailures
  out.error(
    `NOT verified: ${report.runId === undefined ? 'the bundle' : `run ${report.runId}`}: ${failures} check(s) failed`,
  )
  for (const f of report.failures) {
    const where =
      f.step === undefined ? '' : ` step ${f.step}${f.attempt === undefined ? '' : ` attempt ${f.attempt}`}:`
    out.error(`  ${f.check}:${where} ${f.message}`)
  }
  if (report.moreFailures > 0) out.error(`  … and ${report.moreFailures} more`)
  printNotProven(report, out)
}

/** What the bundle cannot prove either way: always shown, never passed in silence. */
function printNotProven(report: RunBundleReport, out: Output): void {
  if (report.notProven.length === 0) return
  out.line(`not proven by the bundle (${report.notProven.length}):`)
  for (const f of report.notProven)
    out.line(`  ${f.check}:${f.step === undefined ? '' : ` step ${f.step}:`} ${f.message}`)
}
