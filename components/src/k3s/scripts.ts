/**
 * Bodies of the k3s host steps (run after the host prelude, see components/src/host/prelude.sh).
 *
 * k3s itself cannot be downloaded in this project's CI, so these scripts are verified by shellcheck and by
 * tests of their text, not by running them against a real k3s.
 */
import * as path from "node:path";
import { secretPlaceholder, writeFileSnippet } from "../host/script";
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
const K3S_PATH = 'PATH="/usr/local/bin:$PATH"';

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
    const svc = serviceName(o.role);
    const { url, env } = installerSource(o.install);
    const airgap = o.install.airgap !== undefined ? airgapRemotePaths(o.install.airgap) : undefined;
    const timeout = o.readyTimeoutSeconds ?? 300;
    const lines = [
        ...(o.configRevision !== undefined ? [`# config.yaml revision ${o.configRevision}: a config change re-runs this step`] : []),
        `K3S_ROLE=${o.role}`,
        `K3S_SERVICE=${svc}`,
        `K3S_WANT_VERSION=${shellQuote(o.install.version ?? "")}`,
        ...(airgap?.installer === undefined ? [`K3S_INSTALLER_URL=${shellQuote(url)}`] : []),
        K3S_PATH,
        `[ -f ${K3S_CONFIG_PATH} ] || hi_fail "${K3S_CONFIG_PATH} is missing (the k3s-config step must run first); nothing was changed"`,
        `[ "$HI_INIT" != none ] || hi_fail "k3s runs as a systemd or OpenRC service and host $HI_HOST has neither; nothing was changed"`,
        'k3s_installed=""',
        'if [ -x /usr/local/bin/k3s ]; then k3s_installed="$(/usr/local/bin/k3s --version 2>/dev/null | awk \'NR == 1 { print $3 }\')" || k3s_installed=""; fi',
        `want_sum="$(sha256sum ${K3S_CONFIG_PATH} | awk '{ print $1 }')"`,
        `have_sum="$(cat ${APPLIED_CONFIG_SUM} 2>/dev/null || true)"`,
        "k3s_service_present() {",
        '  case "$HI_INIT" in',
        '    systemd) [ -f "/etc/systemd/system/$K3S_SERVICE.service" ] ;;',
        '    openrc) [ -f "/etc/init.d/$K3S_SERVICE" ] ;;',
        "    *) false ;;",
        "  esac",
        "}",
        'k3s_reason=""',
        'if [ -z "$k3s_installed" ]; then k3s_reason="k3s is not installed"',
        'elif ! k3s_service_present; then k3s_reason="the $K3S_SERVICE service is missing"',
        'elif [ -n "$K3S_WANT_VERSION" ] && [ "$k3s_installed" != "$K3S_WANT_VERSION" ]; then k3s_reason="upgrade from $k3s_installed to $K3S_WANT_VERSION"',
        ...(airgap !== undefined
            ? [`elif ! cmp -s ${airgap.binary} /usr/local/bin/k3s; then k3s_reason="the uploaded k3s binary differs from the installed one"`]
            : []),
        "fi",
        'if [ -n "$k3s_reason" ]; then',
        '  hi_log "installing k3s $K3S_ROLE ($k3s_reason)"',
        ...(airgap !== undefined
            ? [
                  `  [ -s ${airgap.binary} ] || hi_fail "the air-gap k3s binary was not uploaded to ${airgap.binary}"`,
                  `  [ -s ${shellQuote(airgap.images)} ] || hi_fail ${shellQuote(`the air-gap images were not uploaded to ${airgap.images}`)}`,
                  // install(1) writes a new inode, so a running k3s binary is never overwritten in place.
                  `  install -m 0755 ${airgap.binary} /usr/local/bin/k3s`,
              ]
            : []),
        ...(airgap?.installer !== undefined
            ? [`  k3s_installer=${airgap.installer}`]
            : [
                  "  hi_ensure_cmd curl curl curl curl",
                  '  k3s_installer="$(mktemp "${TMPDIR:-/tmp}/k3s-install.XXXXXX")"',
                  '  HI_TMPFILES+=("$k3s_installer")',
                  '  curl -sfL --retry 3 -o "$k3s_installer" "$K3S_INSTALLER_URL" || hi_fail "could not download the k3s installer from $K3S_INSTALLER_URL"',
              ]),
        // No flags and no K3S_URL/K3S_TOKEN: everything is in config.yaml, so re-running cannot drop settings.
        `  env INSTALL_K3S_EXEC="$K3S_ROLE" ${env.map(shellQuote).join(" ")} sh "$k3s_installer"`,
        "  HI_CHANGED=1",
        'elif [ "$want_sum" != "$have_sum" ]; then',
        `  hi_log "${K3S_CONFIG_PATH} changed since $K3S_SERVICE last started: restarting $K3S_SERVICE"`,
        '  case "$HI_INIT" in',
        '    systemd) systemctl restart "$K3S_SERVICE" ;;',
        '    openrc) rc-service "$K3S_SERVICE" restart ;;',
        "  esac",
        "  HI_CHANGED=1",
        "else",
        '  hi_log "k3s $k3s_installed is installed and running with the current config.yaml"',
        "fi",
        "hi_service_enable \"$K3S_SERVICE\"",
        `k3s_deadline=$(( $(date +%s) + ${timeout} ))`,
        ...(o.role === NodeRole.Server
            ? [
                  "until k3s kubectl get --raw=/readyz >/dev/null 2>&1; do",
                  `  [ "$(date +%s)" -lt "$k3s_deadline" ] || hi_fail "the k3s API did not become ready within ${timeout}s; see journalctl -u $K3S_SERVICE"`,
                  "  sleep 3",
                  "done",
              ]
            : [
                  "k3s_service_active() {",
                  '  case "$HI_INIT" in',
                  '    systemd) systemctl is-active --quiet "$K3S_SERVICE" ;;',
                  '    openrc) rc-service "$K3S_SERVICE" status >/dev/null 2>&1 ;;',
                  "  esac",
                  "}",
                  "until k3s_service_active; do",
                  `  [ "$(date +%s)" -lt "$k3s_deadline" ] || hi_fail "$K3S_SERVICE did not start within ${timeout}s; see journalctl -u $K3S_SERVICE"`,
                  "  sleep 3",
                  "done",
              ]),
        `mkdir -p "$(dirname ${APPLIED_CONFIG_SUM})"`,
        `printf '%s\\n' "$want_sum" >${APPLIED_CONFIG_SUM}`,
        'hi_log "k3s $K3S_ROLE is up"',
    ];
    return lines.join("\n");
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
    return [
        `# cluster token generation ${generation} (k3s.tokenRotation): a new generation re-runs this step`,
        K3S_PATH,
        `if [ ! -s ${K3S_SERVER_TOKEN_PATH} ] || ! command -v k3s >/dev/null 2>&1; then`,
        '  hi_log "no k3s cluster runs here yet: it will start with the new token, nothing to rotate"',
        "else",
        `  k3s_old_token="$(cat ${K3S_SERVER_TOKEN_PATH})"`,
        `  k3s_new_token="$(hi_secret ${SECRET_TOKEN})"`,
        '  if [ "${k3s_old_token##*::server:}" = "$k3s_new_token" ] || [ "$k3s_old_token" = "$k3s_new_token" ]; then',
        `    hi_log "k3s already runs with token generation ${generation}"`,
        "  else",
        `    k3s_deadline=$(( $(date +%s) + ${timeoutSeconds} ))`,
        "    until k3s kubectl get --raw=/readyz >/dev/null 2>&1; do",
        `      [ "$(date +%s)" -lt "$k3s_deadline" ] || hi_fail "the k3s API is not ready after ${timeoutSeconds}s, so the token cannot be rotated; nothing was changed"`,
        "      sleep 3",
        "    done",
        `    hi_log "rotating the cluster token to generation ${generation} (k3s token rotate)"`,
        // The old token travels in K3S_TOKEN (the environment variable of `--token`). `--new-token` has no
        // environment variable: the new token is in this command's argv while it runs (root's own process).
        '    K3S_TOKEN="$k3s_old_token" k3s token rotate --new-token "$k3s_new_token" >/dev/null ||',
        '      hi_fail "k3s token rotate failed; the cluster keeps its old token and no node was restarted"',
        "    HI_CHANGED=1",
        "  fi",
        "fi",
    ].join("\n");
}

/** Delete of the k3s-token-rotate step: a rotated token stays rotated. */
export function renderTokenRotateDelete(): string {
    return 'hi_log "the cluster token stays rotated (a rotation cannot be undone); nothing to do"';
}

/** Delete of the k3s-install step: the installer's own uninstall script (removes k3s, its data and CNI). */
export function renderUninstallScript(role: NodeRole): string {
    const script = uninstallScript(role);
    return [
        `if [ -x ${script} ]; then`,
        `  hi_log "uninstalling k3s ${role}"`,
        `  ${script}`,
        "  HI_CHANGED=1",
        "else",
        `  hi_log "k3s ${role} is not installed (${script} is absent)"`,
        "fi",
        `rm -f ${APPLIED_CONFIG_SUM}`,
    ].join("\n");
}

/**
 * The k3s-node step, run on the first server: waits until the node registered and is Ready, then keeps its
 * labels in sync (k3s applies `node-label` only when a node registers).
 */
export function renderNodeReadyScript(o: { nodeName: string; labels: Readonly<Record<string, string>>; timeoutSeconds?: number; version?: string; configRevision?: string }): string {
    const timeout = o.timeoutSeconds ?? 600;
    const labels = Object.entries(o.labels).map(([k, v]) => shellQuote(`${k}=${v}`));
    const rolled = o.configRevision !== undefined;
    return [
        K3S_PATH,
        `k3s_node=${shellQuote(o.nodeName)}`,
        ...(rolled ? [`# after k3s ${o.version ?? "(channel)"} with config.yaml revision ${o.configRevision}: a change re-runs this step`] : []),
        `k3s_deadline=$(( $(date +%s) + ${timeout} ))`,
        'until k3s kubectl get node "$k3s_node" >/dev/null 2>&1; do',
        `  [ "$(date +%s)" -lt "$k3s_deadline" ] || hi_fail "node $k3s_node did not register within ${timeout}s; check k3s on $k3s_node and that it reaches this server over the overlay"`,
        "  sleep 5",
        "done",
        `k3s kubectl wait --for=condition=Ready "node/$k3s_node" --timeout=${timeout}s >/dev/null || hi_fail "node $k3s_node is registered but not Ready after ${timeout}s"`,
        ...(labels.length > 0 ? [`k3s kubectl label node "$k3s_node" --overwrite ${labels.join(" ")} >/dev/null`] : []),
        ...(rolled
            ? [
                  ...(o.version !== undefined
                      ? [
                            `k3s_version="$(k3s kubectl get node "$k3s_node" -o jsonpath='{.status.nodeInfo.kubeletVersion}')"`,
                            `[ "$k3s_version" = ${shellQuote(o.version)} ] || hi_fail "node $k3s_node is Ready but runs $k3s_version, not ${o.version}: the upgrade did not take; the roll stops here and $k3s_node stays cordoned (see journalctl on $k3s_node)"`,
                        ]
                      : []),
                  `k3s kubectl annotate node "$k3s_node" --overwrite ${shellQuote(`${CONFIG_REVISION_ANNOTATION}=${o.configRevision}`)} >/dev/null`,
                  'if [ "$(k3s kubectl get node "$k3s_node" -o jsonpath=\'{.spec.unschedulable}\')" = true ]; then k3s kubectl uncordon "$k3s_node" >/dev/null; hi_log "uncordoned $k3s_node"; HI_CHANGED=1; fi',
              ]
            : []),
        'hi_log "node $k3s_node is Ready"',
    ].join("\n");
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
    const kubectl = nodeRemovalKubectlArgs('"$k3s_node"', timeout);
    return [
        K3S_PATH,
        `k3s_node=${shellQuote(o.nodeName)}`,
        `k3s_want_version=${shellQuote(o.version ?? "")}`,
        `k3s_want_revision=${shellQuote(o.configRevision)}`,
        'if ! k3s kubectl get node "$k3s_node" >/dev/null 2>&1; then',
        '  hi_log "node $k3s_node is not registered yet: nothing to drain"',
        "  exit 0",
        "fi",
        `k3s_have_version="$(k3s kubectl get node "$k3s_node" -o jsonpath='{.status.nodeInfo.kubeletVersion}')"`,
        `k3s_have_revision="$(k3s kubectl get node "$k3s_node" -o jsonpath='{.metadata.annotations.hybridinfra\\.dev/k3s-config-revision}')"`,
        'k3s_why=""',
        'if [ -n "$k3s_want_version" ] && [ "$k3s_have_version" != "$k3s_want_version" ]; then k3s_why="upgrade from $k3s_have_version to $k3s_want_version"',
        'elif [ -n "$k3s_have_revision" ] && [ "$k3s_have_revision" != "$k3s_want_revision" ]; then k3s_why="config.yaml changed (revision $k3s_have_revision to $k3s_want_revision)"',
        "fi",
        'if [ -z "$k3s_why" ]; then',
        '  hi_log "node $k3s_node: nothing to upgrade or restart, not draining"',
        "  exit 0",
        "fi",
        `k3s_others="$(k3s kubectl get nodes --no-headers | awk -v n="$k3s_node" '$1 != n && $2 == "Ready" { c++ } END { print c + 0 }')"`,
        'if [ "$k3s_others" -eq 0 ]; then',
        '  hi_log "node $k3s_node ($k3s_why): no other schedulable Ready node to move its pods to, not draining"',
        "  exit 0",
        "fi",
        'hi_log "cordoning and draining $k3s_node before its k3s restart ($k3s_why)"',
        `k3s kubectl ${kubectl.drain.join(" ")} || hi_fail "drain of $k3s_node did not finish within ${timeout}s: a PodDisruptionBudget blocks an eviction (kubectl get pdb -A) or a pod does not stop; the roll stops here: $k3s_node stays cordoned and nothing was upgraded; fix that, then run pulumi up again (or kubectl uncordon $k3s_node to give up)"`,
        "HI_CHANGED=1",
    ].join("\n");
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
    const onTimeout =
        o.onDrainTimeout === "fail"
            ? `    hi_fail "drain of $k3s_node did not finish within ${timeout}s: a PodDisruptionBudget blocks an eviction (kubectl get pdb -A) or a pod does not stop; the node stays cordoned and nothing else changed; fix that, then run pulumi up again"`
            : `    hi_warn "drain of $k3s_node did not finish within ${timeout}s (node unreachable or a PodDisruptionBudget blocks it); deleting the Node anyway"`;
    const kubectl = nodeRemovalKubectlArgs('"$k3s_node"', timeout);
    return [
        K3S_PATH,
        `k3s_node=${shellQuote(o.nodeName)}`,
        "if ! command -v k3s >/dev/null 2>&1; then",
        '  hi_warn "k3s is not installed on this server; node $k3s_node cannot be drained here"',
        'elif k3s kubectl get node "$k3s_node" >/dev/null 2>&1; then',
        '  hi_log "draining $k3s_node"',
        `  if ! k3s kubectl ${kubectl.drain.join(" ")}; then`,
        onTimeout,
        "  fi",
        `  k3s kubectl ${kubectl.deleteNode.join(" ")}`,
        "  HI_CHANGED=1",
        "else",
        '  hi_log "node $k3s_node is not in the cluster (already removed)"',
        "fi",
    ].join("\n");
}

/** The kubeconfig read step: prints k3s.yaml between markers (the prelude's log lines share stdout). */
export function renderKubeconfigScript(timeoutSeconds = 120): string {
    return [
        `k3s_deadline=$(( $(date +%s) + ${timeoutSeconds} ))`,
        `until [ -s ${K3S_KUBECONFIG_PATH} ]; do`,
        `  [ "$(date +%s)" -lt "$k3s_deadline" ] || hi_fail "${K3S_KUBECONFIG_PATH} did not appear within ${timeoutSeconds}s"`,
        "  sleep 2",
        "done",
        `printf '%s\\n' ${shellQuote(KUBECONFIG_BEGIN)}`,
        `cat ${K3S_KUBECONFIG_PATH}`,
        `printf '%s\\n' ${shellQuote(KUBECONFIG_END)}`,
    ].join("\n");
}
