/**
 * The Horus SDK: `HorusClient` joins the mesh with its own peer ID (or talks to a gateway), submits
 * and watches workflows and signs single jobs. Types follow `src/roles/coordinator/API.md`.
 */
import '../node/polyfills.js'

export {
  BUNDLE_CHECKS,
  type BundleAttempt,
  type BundleCheck,
  type BundleFailure,
  type BundleKey,
  type BundleStep,
  RUN_BUNDLE_FORMAT,
  type RunBundle,
  type RunBundleReport,
  runBundleSchema,
  signRunBundle,
  type UnsignedRunBundle,
  type VerifyBundleOptions,
  verifyRunBundle,
} from '../roles/coordinator/provenance/index.js'
export type { ServiceRole } from './connection.js'
export * from './constants.js'
export * from './errors.js'
export type {
  CreateJobOptions,
  GatewayClientOptions,
  HorusClientOptions,
  JobResultOptions,
  JobSpec,
  MeshClientOptions,
  SecretOptions,
  SignalOptions,
  SubmitOptions,
  WaitForJobOptions,
} from './horus-client.js'
export { HorusClient } from './horus-client.js'
export * from './types.js'
export type { WaitOptions } from './wait.js'
