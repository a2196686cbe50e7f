/**
 * Verifiable provenance: a run exported as a self-contained bundle (`exportRunBundle`, served as
 * `coordinator.export_run`) and checked offline (`verifyRunBundle`). The format is in ../API.md.
 */
export {
  type BundleAttempt,
  type BundleKey,
  type BundleStep,
  bundleSigningBytes,
  RUN_BUNDLE_FORMAT,
  type RunBundle,
  signRunBundle,
  type UnsignedRunBundle,
} from './bundle.js'
export { runBundleSchema, validateRunBundle } from './bundle-schema.js'
export { type ExportInit, exportRunBundle } from './export.js'
export {
  BUNDLE_CHECKS,
  type BundleCheck,
  type BundleFailure,
  MAX_REPORTED_FAILURES,
  type RunBundleReport,
  type VerifyBundleOptions,
  verifyRunBundle,
} from './verify.js'
