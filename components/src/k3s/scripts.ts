/**
 * Bodies of the k3s host steps (run after the host prelude, see components/src/host/prelude.sh). The static
 * shell is in the .sh files next to this file (k3s-install.sh, k3s-token-rotate.sh, k3s-node.sh,
 * k3s-drain.sh, node-remove.sh, k3s-kubeconfig.sh: templates, see ../host/shellTemplate.ts); this file
 * supplies only what depends on values: paths, versions, timeouts, names and the parts that differ per node.
 * The k3s-config step is file writes of rendered files (config.yaml, the token), so it stays here.
 *
 * k3s itself cannot be downloaded in this project's CI, so these scripts are verified by shellcheck and by
 * tests of their text, not by running them against a real k3s.
 */
import * as path from "node:path";
import { secretPlaceholder, writeFileSnippet } from "../host/script";
import { loadShellTemplates, singleQuotedText } from "../host/shellTemplate";
import { shellQuote } from "../util/shell";
import { K3S_CONFIG_PATH, K3S_KUBECONFIG_PATH, K3S_TOKEN_PATH, NodeRole } from "./model";
import { K3sInstallPlan } from "./plan";
import { SECRET_TOKEN } from "./render";

/** Where air-gap uploads land before the install step puts them in place. */
export const AIRGAP_DIR = "/var/lib/rancher/hybridinfra/k3s-airgap";
export const AIRGAP_IMAGES_DIR = "/var/lib/rancher/k3s/agent/images";
/** sha256 of the config.yaml k3s was last (re)started with: a changed file means a restart is due. */
export const APPLIED_CONFIG_SUM = "/var/lib/rancher/hybridinfra/k3s-config.sha256";
export const KUBECONFIG_BEGIN = "-----BEGIN HYBRIDINFRA KUBECONFIG-----";
export const KUBECONFIG_END = "-----END HYBRIDINFRA KUBECONFIG-----";

const INSTALL = loadShellTemplates(__dirname, "k3s-install.sh");
const TOKEN_ROTATE = loadShellTemplates(__dirname, "k3s-token-rotate.sh");
const NODE = loadShellTemplates(__dirname, "k3s-node.sh");
const DRAIN = loadShellTemplates(__dirname, "k3s-drain.sh").get("drain");
const NODE_REMOVE = loadShellTemplates(__dirname, "node-remove.sh").get("remove");
const KUBECONFIG = loadShellTemplates(__dirname, "k3s-kubeconfig.sh").get("kubeconfig");

/** systemd/OpenRC service name of a role (what the official installer creates). */
export function serviceName(role: NodeRole): string {
    return role === NodeRole.Server ? "k3s" : "k3s-agent";
}

/** Uninstall script the official installer leaves behind. */
export function uninstallScript(role: NodeRole): string {
    return role === NodeRole.Server ? "/usr/local/bin/k3s-uninstall.sh" : "/usr/local/bin/k3s-agent-uninstall.sh";
}

/** Remote paths of the air-gap uploads. */
export function airgapRemotePaths(airgap: { imagesPath: string; installScriptPath?: string }): { binary: string; images: string; installer?: string } {
    return {
        binary: `${AIRGAP_DIR}/k3s`,
        // k3s picks the decompressor from the extension, so the upload keeps the file's own name.
        images: `${AIRGAP_IMAGES_DIR}/${path.basename(airgap.imagesPath)}`,
        ...(airgap.installScriptPath !== undefined ? { installer: `${AIRGAP_DIR}/install.sh` } : {}),
    };
}

/**
 * The k3s-config step: the token file (0600, no marker: k3s reads the whole file) and config.yaml (0600).
 * The token and any datastore endpoint are placeholders filled on the host from stdin.
 */
export function renderConfigStep(configYaml: string, airgap: boolean): string {
    return [
        writeFileSnippet(K3S_TOKEN_PATH, secretPlaceholder(SECRET_TOKEN), "0600", "root:root", ""),
        writeFileSnippet(K3S_CONFIG_PATH, configYaml, "0600"),
        ...(airgap ? [`install -d -m 0700 ${AIRGAP_DIR} && install -d -m 0755 ${AIRGAP_IMAGES_DIR}`] : []),
    ].join("\n");
}

/** Delete of the k3s-config step (runs after the uninstall, which depends on it). */
export function renderConfigDelete(airgap: boolean): string {
    return [`hi_remove_managed_file ${K3S_CONFIG_PATH}`, `hi_remove_managed_file ${K3S_TOKEN_PATH} --any`, ...(airgap ? [`rm -rf ${AIRGAP_DIR}`] : [])].join("\n");
}

export interface InstallScriptOptions {
    readonly role: NodeRole;
    readonly install: K3sInstallPlan;
    /**
     * How long to wait for the node to come up.
     * @default 300
     */
    readonly readyTimeoutSeconds?: number;
    /**
     * Digest of the rendered config.yaml (see `configRevision`). It only makes the script text change with
     * the config, so that Pulumi re-runs the step; the restart itself is decided on the host from the file.
     * @default none
     */
    readonly configRevision?: string;
}

/** Installer URL and the environment the official installer reads. */
export function installerSource(install: K3sInstallPlan): { url: string; env: string[] } {
    const env: string[] = [];
    let url = "https://get.k3s.io";
    if (install.mirrorUrl !== undefined) {
        url = `${install.mirrorUrl}/k3s/k3s-install.sh`;
        env.push("INSTALL_K3S_MIRROR=cn", `INSTALL_K3S_MIRROR_URL=${new URL(install.mirrorUrl).host}`);
    }
    if (install.version !== undefined) env.push(`INSTALL_K3S_VERSION=${install.version}`);
    else env.push(`INSTALL_K3S_CHANNEL=${install.channel ?? "stable"}`);
    if (install.airgap !== undefined) env.push("INSTALL_K3S_SKIP_DOWNLOAD=true");
    return { url, env };
}

/**
 * The k3s-install step. Facts first: installed version (`k3s --version`), the service, and the sha256 of
 * config.yaml k3s last started with. Then only what differs: install/upgrade, or restart for a changed
 * config.yaml, or nothing. The version is part of this text, so changing it updates this step (and the
 * dependency chain rolls it out server by server, then to agents).
 */
export function renderInstallScript(o: InstallScriptOptions): string {
    const { url, env } = installerSource(o.install);
    const airgap = o.install.airgap !== undefined ? airgapRemotePaths(o.install.airgap) : undefined;
    const timeout = String(o.readyTimeoutSeconds ?? 300);
    return INSTALL.get("install").renderBlock({
        revision: o.configRevision !== undefined ? `# config.yaml revision ${o.configRevision}: a config change re-runs this step` : undefined,
        role: o.role,
        service: serviceName(o.role),
        version: shellQuote(o.install.version ?? ""),
        "installer-url": airgap?.installer === undefined ? `K3S_INSTALLER_URL=${shellQuote(url)}` : undefined,
        config: K3S_CONFIG_PATH,
        "applied-sum": APPLIED_CONFIG_SUM,
        "airgap-binary-check":
            airgap !== undefined ? `elif ! cmp -s ${airgap.binary} /usr/local/bin/k3s; then k3s_reason="the uploaded k3s binary differs from the installed one"` : undefined,
        "airgap-upload":
            airgap !== undefined
                ? INSTALL.get("airgap-upload").renderBlock({ binary: airgap.binary, images: shellQuote(airgap.images), "images-text": singleQuotedText(airgap.images) })
                : undefined,
        installer: airgap?.installer !== undefined ? `  k3s_installer=${airgap.installer}` : INSTALL.get("installer-download").renderBlock(),
        "installer-env": env.map(shellQuote).join(" "),
        ready: INSTALL.get(o.role === NodeRole.Server ? "ready-server" : "ready-agent").renderBlock({ timeout }),
    });
}

/** k3s's own copy of the server token, in secure format (`K10<CA hash>::server:<password>`); `k3s token rotate` rewrites it. */
export const K3S_SERVER_TOKEN_PATH = "/var/lib/rancher/k3s/server/token";

/**
 * The k3s-token-rotate step, on the first server, before its install step restarts k3s (k3s.tokenRotation).
 * The old token is the one k3s itself runs with (its server/token file; our token file may already hold the
 * new one). Skipped on a host where no cluster runs yet (it starts with the new token) and when k3s already
 * has the new token (a re-run). After it, the config steps' new token files and config.yaml (which states the
 * generation) make the install steps restart k3s: this server, the other servers one at a time, then the agents.
 * Untested against a real k3s (none can be had here): see the README's "Day 2".
 */
export function renderTokenRotateScript(generation: number, timeoutSeconds = 120): string {
    return TOKEN_ROTATE.get("rotate").renderBlock({
        generation: String(generation),
        timeout: String(timeoutSeconds),
        "server-token": K3S_SERVER_TOKEN_PATH,
        secret: SECRET_TOKEN,
    });
}

/** Delete of the k3s-token-rotate step: a rotated token stays rotated. */
export function renderTokenRotateDelete(): string {
    return TOKEN_ROTATE.get("delete").renderBlock();
}

/** Delete of the k3s-install step: the installer's own uninstall script (removes k3s, its data and CNI). */
export function renderUninstallScript(role: NodeRole): string {
    return INSTALL.get("uninstall").renderBlock({ uninstaller: uninstallScript(role), role, "applied-sum": APPLIED_CONFIG_SUM });
}

/**
 * The k3s-node step, run on the first server: waits until the node registered and is Ready, then keeps its
 * labels in sync (k3s applies `node-label` only when a node registers).
 */
export function renderNodeReadyScript(o: { nodeName: string; labels: Readonly<Record<string, string>>; timeoutSeconds?: number; version?: string; configRevision?: string }): string {
    const labels = Object.entries(o.labels).map(([k, v]) => shellQuote(`${k}=${v}`));
    const rolled = o.configRevision !== undefined;
    return NODE.get("ready").renderBlock({
        node: shellQuote(o.nodeName),
        "rolled-note": rolled ? `# after k3s ${o.version ?? "(channel)"} with config.yaml revision ${o.configRevision}: a change re-runs this step` : undefined,
        timeout: String(o.timeoutSeconds ?? 600),
        labels: labels.length > 0 ? `k3s kubectl label node "$k3s_node" --overwrite ${labels.join(" ")} >/dev/null` : undefined,
        rolled: rolled
            ? NODE.get("rolled").renderBlock({
                  "version-check": o.version !== undefined ? NODE.get("version-check").renderBlock({ want: shellQuote(o.version), version: o.version }) : undefined,
                  annotation: shellQuote(`${CONFIG_REVISION_ANNOTATION}=${o.configRevision}`),
              })
            : undefined,
    });
}

/** The Node annotation that holds the config.yaml revision k3s last started with on that node. */
export const CONFIG_REVISION_ANNOTATION = "hybridinfra.dev/k3s-config-revision";

/**
 * The k3s-drain step, run on the first server before a node's install step: when that step is going to
 * upgrade or restart k3s (the Node's kubelet version differs from the pinned one, or its recorded config.yaml
 * revision differs from the new one), cordon and drain the node, honouring PodDisruptionBudgets; a drain that
 * does not finish fails the step, so the roll stops with this node cordoned and nothing upgraded. A node not
 * registered yet (first install), one with nothing to restart, and the only schedulable node are not drained.
 * The version and revision are part of the script, so the step re-runs exactly when the install step does.
 */
export function renderNodeDrainScript(o: { nodeName: string; version?: string; configRevision: string; drainTimeoutSeconds?: number }): string {
    const timeout = o.drainTimeoutSeconds ?? DEFAULT_DRAIN_TIMEOUT_SECONDS;
    return DRAIN.renderBlock({
        node: shellQuote(o.nodeName),
        version: shellQuote(o.version ?? ""),
        revision: shellQuote(o.configRevision),
        "revision-path": CONFIG_REVISION_ANNOTATION.replace(/\./g, "\\."),
        drain: nodeRemovalKubectlArgs('"$k3s_node"', timeout).drain.join(" "),
        timeout: String(timeout),
    });
}

/** How long node removal lets `kubectl drain` wait for evictions (PodDisruptionBudgets) by default. */
export const DEFAULT_DRAIN_TIMEOUT_SECONDS = 300;

/**
 * The `kubectl` arguments node removal runs, in order: drain the node, then delete its Node object. Shared by
 * {@link renderNodeRemoveScript} (which passes the quoted shell variable `"$k3s_node"` as `node`) and the
 * control-plane test that runs the same drain with a real kubectl; `node` is inserted verbatim.
 */
export function nodeRemovalKubectlArgs(node: string, drainTimeoutSeconds = DEFAULT_DRAIN_TIMEOUT_SECONDS): { drain: string[]; deleteNode: string[] } {
    return {
        drain: ["drain", node, "--ignore-daemonsets", "--delete-emptydir-data", `--timeout=${drainTimeoutSeconds}s`],
        deleteNode: ["delete", "node", node, "--timeout=120s"],
    };
}

/**
 * Node removal, run on the first server: drain, then delete the Node object. Two uses:
 * - the delete of the k3s-node step (an entry deleted outright), before the node's own uninstall (the step
 *   depends on the node's install step, and Pulumi deletes dependents first); a drain that times out is
 *   warned about and the Node deleted anyway (`onDrainTimeout: "delete"`, the default);
 * - the node removal step of `hosts[i].remove: true`, which runs before the other hosts drop the node's peer:
 *   a drain that times out fails the step (`"fail"`), so nothing after it runs and the node stays reachable.
 */
export function renderNodeRemoveScript(o: { nodeName: string; drainTimeoutSeconds?: number; onDrainTimeout?: "delete" | "fail" }): string {
    const timeout = o.drainTimeoutSeconds ?? DEFAULT_DRAIN_TIMEOUT_SECONDS;
    const kubectl = nodeRemovalKubectlArgs('"$k3s_node"', timeout);
    return NODE_REMOVE.renderBlock({
        node: shellQuote(o.nodeName),
        drain: kubectl.drain.join(" "),
        "on-timeout":
            o.onDrainTimeout === "fail"
                ? `    hi_fail "drain of $k3s_node did not finish within ${timeout}s: a PodDisruptionBudget blocks an eviction (kubectl get pdb -A) or a pod does not stop; the node stays cordoned and nothing else changed; fix that, then run pulumi up again"`
                : `    hi_warn "drain of $k3s_node did not finish within ${timeout}s (node unreachable or a PodDisruptionBudget blocks it); deleting the Node anyway"`,
        "delete-node": kubectl.deleteNode.join(" "),
    });
}

/** The kubeconfig read step: prints k3s.yaml between markers (the prelude's log lines share stdout). */
export function renderKubeconfigScript(timeoutSeconds = 120): string {
    return KUBECONFIG.renderBlock({
        timeout: String(timeoutSeconds),
        kubeconfig: K3S_KUBECONFIG_PATH,
        begin: shellQuote(KUBECONFIG_BEGIN),
        end: shellQuote(KUBECONFIG_END),
    });
}
