// Re-exported from the package root (components/src/index.ts).
export { SSH_ADDRESS_FIX, sshAddressProblem, validatePrivateKey } from "./model";
export type { SshCheckOptions, SshHostArgs, SshJumpArgs } from "./model";

// Only for the composition layer (cluster/), the repository's tools and tests: not part of the package's API.
export { SSH_DIAL_DEFAULTS, validateSshHosts } from "./model";
export { connectionFor } from "./connection";
export { encodeSecretStdin, renderHostScript, secretPlaceholder, writeFileSnippet } from "./script";
export { reconvergeLine, reconvergeTransformation, remoteStep } from "./step";
export { AddressScope, addressScope, sshReachProblems } from "./reach";
