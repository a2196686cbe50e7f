/**
 * Signed jobs and the trust model: job envelopes with a signature chain (RFC 8785 canonical JSON,
 * Ed25519), the trust policy that says whose signatures count, the verifier every executor runs
 * before accepting a job, the persisted replay cache, signed results, and the gossip topics with
 * their validator.
 *
 * Wiring, in a node: `TrustPolicyWatcher` (or a fixed `TrustPolicy`) + `ReplayCache` over the
 * node datastore → `createJobVerifier`. Gossip: register `createJobTopicValidator(verifier)` for
 * each `jobTopic(capability)` and give gossipsub `scoreParams.topics: jobTopicsScoreParams(caps)`.
 * RPC: call `verifier.verify(params.job, { capability, owned: true })` where a job is accepted for
 * execution (`owned`: the params are fresh from the frame's JSON.parse, so the envelope is checked
 * in place rather than copied) and throw `JobRejectedError(reason, message)` on failure; the
 * "who may call" hook is `policy.canCall(publicKeyHexFromPeerId(remotePeer), role)`.
 */
export {
  authorityRunMismatch,
  authoritySigner,
  createSubmission,
  createTriggerRegistration,
  documentDigest,
  isTriggerRunId,
  type JobAuthority,
  type SignedAuthority,
  type SignedSubmission,
  type SignedTriggerRegistration,
  type SubmissionFields,
  submissionSigningBytes,
  TRIGGER_RUN_PREFIXES,
  type TriggerFiring,
  type TriggerRegistrationFields,
  triggerRunPattern,
  triggerSigningBytes,
  verifyAuthoritySignature,
} from './authority.js'
export {
  jobAuthoritySchema,
  submissionSchema,
  triggerRegistrationSchema,
  validateJobAuthority,
  validateSubmission,
  validateTriggerRegistration,
} from './authority-schema.js'
export { canonicalBytes, canonicalJson } from './canonical.js'
export * from './constants.js'
export type { Ed25519Backend } from './ed25519.js'
export { nobleEd25519 } from './ed25519-noble.js'
export { nodeEd25519 } from './ed25519-node.js'
export { sodiumEd25519 } from './ed25519-sodium.js'
export {
  adHocJobId,
  adHocNamespace,
  appendSignature,
  createJob,
  envelopeTag,
  type JobEnvelope,
  type JobFields,
  type JobSignature,
  jobDigest,
  jobIdProblem,
  jobSigningBytes,
  signatureChainProblem,
  stepJobId,
  type UnsignedJob,
  unsignedJob,
} from './envelope.js'
export {
  envelopeBatchSchema,
  jobEnvelopeSchema,
  jobSignatureSchema,
  validateJobEnvelope,
} from './envelope-schema.js'
export * from './errors.js'
export {
  JOB_TOPIC_INVALID_DECAY,
  JOB_TOPIC_INVALID_WEIGHT,
  jobTopicScoreParams,
  jobTopicsScoreParams,
} from './gossip-scoring.js'
export { createJobTopicValidator, type JobTopicValidatorOptions } from './gossip-validator.js'
export {
  fromHex,
  isHexPublicKey,
  normalizePublicKey,
  peerIdFromPublicKeyHex,
  publicKeyHexFromPeerId,
  publicKeyHexOfPeer,
  toHex,
} from './keys.js'
export { REJECT_REASONS, type RejectReason } from './reasons.js'
export { MAX_EXPIRED_PER_CLAIM, ReplayCache, type ReplayCacheInit } from './replay-cache.js'
export {
  type CreateResultOptions,
  createResult,
  type ExpectedJob,
  type JobFailure,
  type JobResult,
  type JobStatus,
  outputDigest,
  RESULT_REJECT_REASONS,
  type ResultFields,
  type ResultRejectReason,
  resultJsonSize,
  resultRejectionCounts,
  resultSigningBytes,
  type UnsignedResult,
  type VerifyResultOptions,
  type VerifyResultOutcome,
  verifyResult,
} from './result.js'
export { JOB_STATUSES, jobResultSchema, validateJobResult } from './result-schema.js'
export {
  commonRecipients,
  runnerRecipients,
  type SecretRecipient,
  secretRecipientSchema,
} from './secret-recipients.js'
export {
  assertSecretName,
  jobSecretsSchema,
  MAX_JOB_SECRETS,
  MAX_SECRET_BYTES,
  MAX_SECRET_RECIPIENTS,
  MIN_SECRET_BYTES,
  SECRET_ALGORITHM,
  SECRET_NAME_PATTERN,
  type SealedRecipient,
  type SealedSecret,
  SecretNotRecipientError,
  SecretOpenError,
  SecretOpener,
  SecretSealError,
  sealedSecretSchema,
  sealSecret,
  sealSecrets,
} from './secrets.js'
export {
  defaultEd25519,
  generateSigner,
  type Signer,
  signerFromPrivateKey,
  signerFromSeed,
  signerKeyHex,
} from './signer.js'
export { capabilityOfTopic, jobTopic } from './topics.js'
export {
  grantedClaims,
  TRUST_ROLES,
  type TrustConfig,
  type TrustDecision,
  type TrustedKey,
  type TrustKeyConfig,
  TrustPolicy,
  type TrustPolicyOptions,
  type TrustQuery,
  type TrustRole,
} from './trust-policy.js'
export {
  TrustPolicyWatcher,
  type TrustPolicyWatcherEvents,
  type TrustPolicyWatcherInit,
} from './trust-policy-watcher.js'
export {
  createJobVerifier,
  JobVerifier,
  type JobVerifierEvents,
  type JobVerifierInit,
  type Rejection,
  type VerifierStats,
  type VerifyAndRecordOptions,
  type VerifyOptions,
  type VerifyResult,
} from './verifier.js'
