import { apiUrl, K3S_API_PORT } from "./model";
import { KUBECONFIG_BEGIN, KUBECONFIG_END } from "./scripts";

/**
 * Takes the kubeconfig out of the read step's stdout (between markers: the step's log lines share stdout)
 * and points it at a reachable address instead of the server's loopback. Pure. Never echoes the text: it
 * holds the cluster admin's client key.
 */
export function extractKubeconfig(stdout: string, endpoint: string): string {
    const start = stdout.indexOf(`${KUBECONFIG_BEGIN}\n`);
    const end = stdout.indexOf(`\n${KUBECONFIG_END}`);
    if (start < 0 || end < start) {
        throw new Error(
            `the kubeconfig step printed no kubeconfig (${stdout.length} characters without the ${KUBECONFIG_BEGIN} … ${KUBECONFIG_END} markers); check k3s on the first server`,
        );
    }
    const text = stdout.slice(start + KUBECONFIG_BEGIN.length + 1, end + 1);
    return text.split(`https://127.0.0.1:${K3S_API_PORT}`).join(apiUrl(endpoint));
}
