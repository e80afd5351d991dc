import { secretPlaceholder } from "../host/script";
import { etcdBackupEntries } from "./backup";
import { K3S_AGENT_FLAGS, K3S_SERVER_FLAGS } from "./flags";
import { K3S_TOKEN_PATH, NodeRole, VXLAN_OVERHEAD } from "./model";
import { K3sConfigValues } from "./plan";

/** Names of the stdin secrets the config step fills into its files on the host. */
export const SECRET_TOKEN = "k3s_token";
export const SECRET_DATASTORE = "k3s_datastore_endpoint";

type YamlValue = string | boolean | readonly string[];

/** A YAML scalar: JSON strings are valid YAML double-quoted scalars, so quoting is never ambiguous. */
function yamlScalar(v: string | boolean): string {
    return typeof v === "boolean" ? String(v) : JSON.stringify(v);
}

/**
 * Escapes a secret for use inside a double-quoted YAML scalar (the placeholder sits between quotes), so a
 * password containing `"` or `\` cannot break config.yaml.
 */
export function yamlQuotedInner(value: string): string {
    return JSON.stringify(value).slice(1, -1);
}

/** The config.yaml entries of a node, in a fixed order (stable diffs). */
export function k3sConfigEntries(v: K3sConfigValues): [string, YamlValue][] {
    const server = v.role === NodeRole.Server;
    const e: [string, YamlValue][] = [];
    const add = (key: string, value: YamlValue | undefined): void => {
        if (value === undefined) return;
        if (Array.isArray(value) && value.length === 0) return;
        e.push([key, value]);
    };
    add("node-name", v.nodeName);
    add("node-ip", v.nodeIp);
    add("node-external-ip", v.nodeExternalIp);
    if (server) add("advertise-address", v.advertiseAddress);
    add("flannel-iface", v.interfaceName);
    add("server", v.serverUrl);
    add("token-file", K3S_TOKEN_PATH);
    if (server) {
        if (v.clusterInit) add("cluster-init", true);
        // The endpoint holds a password: only a placeholder is rendered; the host fills it from stdin.
        if (v.externalDatastore) add("datastore-endpoint", secretPlaceholder(SECRET_DATASTORE));
        add("write-kubeconfig-mode", "0600");
        add("tls-san", v.tlsSans);
        add("cluster-cidr", v.clusterCidr);
        add("service-cidr", v.serviceCidr);
        add("disable", v.disable);
        if (v.secretsEncryption) add("secrets-encryption", true);
        for (const [key, value] of v.etcdBackup !== undefined ? etcdBackupEntries(v.etcdBackup) : []) add(key, value);
    }
    add(
        "node-label",
        Object.entries(v.labels).map(([k, val]) => `${k}=${val}`),
    );
    add("node-taint", v.taints);
    add("kubelet-arg", v.kubeletArgs);
    if (server) {
        add("kube-controller-manager-arg", v.kubeControllerManagerArgs);
        add("kube-apiserver-arg", v.kubeApiServerArgs);
    }
    return e;
}

/**
 * Renders `/etc/rancher/k3s/config.yaml`. Every key is checked against the k3s flag list of the node's role,
 * because k3s ignores nothing silently: an unknown key stops the service from starting.
 */
export function renderK3sConfig(v: K3sConfigValues): string {
    const known = v.role === NodeRole.Server ? K3S_SERVER_FLAGS : K3S_AGENT_FLAGS;
    const lines: string[] = [`# k3s ${v.role} configuration of ${v.nodeName}, rendered by HybridInfra (the installer gets no flags).`];
    if (v.overlayMtu !== undefined) {
        // flannel reads the interface MTU only when k3s starts: stating it here makes an MTU change a config
        // change, which restarts k3s on this node.
        lines.push(
            `# ${v.interfaceName} MTU ${v.overlayMtu}: flannel's VXLAN MTU is ${v.overlayMtu - VXLAN_OVERHEAD} (${v.overlayMtu} - ${VXLAN_OVERHEAD} bytes of VXLAN overhead), read when k3s starts.`,
            "# A change of this MTU restarts k3s here; pods created before keep the old MTU until they are recreated.",
        );
    }
    if (v.tokenRotation !== undefined) {
        // k3s reads token-file only when it starts: stating the generation here makes a rotation a config change,
        // which restarts k3s here once the token file holds the new token.
        lines.push(`# cluster token generation ${v.tokenRotation} (k3s.tokenRotation): a new generation restarts k3s here with the rotated token.`);
    }
    for (const [key, value] of k3sConfigEntries(v)) {
        if (!known.includes(key)) throw new Error(`renderK3sConfig: "${key}" is not a k3s ${v.role} flag (bug in HybridInfra)`);
        if (Array.isArray(value)) {
            lines.push(`${key}:`);
            for (const item of value) lines.push(`  - ${yamlScalar(item)}`);
        } else {
            lines.push(`${key}: ${yamlScalar(value as string | boolean)}`);
        }
    }
    return `${lines.join("\n")}\n`;
}

/** The top-level keys of a config.yaml rendered by `renderK3sConfig` (for checks and tests). */
export function configKeys(text: string): string[] {
    return text
        .split("\n")
        .filter((l) => /^[a-z0-9-]+:/.test(l))
        .map((l) => l.slice(0, l.indexOf(":")));
}
