// Entry point for `pulumi up` / `pulumi preview` (Pulumi.yaml: main: infra/).
import { runProgram } from "./program";

const { outputs } = runProgram();

/** Admin kubeconfig (secret): `pulumi stack output kubeconfig --show-secrets > kubeconfig`. */
export const kubeconfig = outputs.kubeconfig;
/** The Kubernetes API URL written into the kubeconfig. */
export const apiEndpoint = outputs.apiEndpoint;
/** Each host's overlay address. */
export const overlayAddresses = outputs.overlayAddresses;
/** Public URLs of the exposed apps, by app. */
export const appUrls = outputs.appUrls;
/** Worst-case seconds before pods of a dark node are rescheduled (the failover profile's bound). */
export const failoverBoundSeconds = outputs.failoverBoundSeconds;
