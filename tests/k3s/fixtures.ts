import { K3sNodeArgs, NodeRole } from "../../components/src/k3s";
import { TEST_KEY } from "../harness/fixtures";

export function server(name: string, overlay: string, location = "tokyo", extra: Partial<K3sNodeArgs> = {}): K3sNodeArgs {
    return { name, address: `198.51.100.${overlay.split(".").pop()}`, privateKey: TEST_KEY, role: NodeRole.Server, location, overlayAddress: overlay, ...extra };
}

export function agent(name: string, overlay: string, location = "home", extra: Partial<K3sNodeArgs> = {}): K3sNodeArgs {
    return { name, address: `192.168.50.${overlay.split(".").pop()}`, privateKey: TEST_KEY, role: NodeRole.Agent, location, overlayAddress: overlay, ...extra };
}

/** An external datastore DSN with characters that need escaping in YAML. */
export const DSN = 'mysql://k3s:pa"ss\\word@tcp(10.100.0.50:3306)/k3s';
