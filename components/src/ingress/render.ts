import { shellQuote } from "../util/shell";
import { writeFileSnippet } from "../host/script";
import { CHAIN_PREFIX, ForwardPlan, ForwardRule, forwardRules } from "./plan";

/** Where the rule script lives on the node, so the rules come back after a reboot. */
export const FORWARD_BIN = "/usr/local/sbin/hybridinfra-ingress-forward";
export const FORWARD_UNIT = "/etc/systemd/system/hybridinfra-ingress-forward.service";
export const FORWARD_OPENRC = "/etc/local.d/hybridinfra-ingress-forward.start";
export const FORWARD_SYSCTL = "/etc/sysctl.d/90-hybridinfra-ingress-forward.conf";

/**
 * Bash functions shared by the rule script and the delete step. Every change goes through -C (check)
 * first, so a second run changes nothing; chains are created only when missing.
 */
const FUNCTIONS = String.raw`hi_fwd_ipt() { iptables -w "$@"; }
hi_fwd_chain() {
  if hi_fwd_ipt -t "$1" -n -L "$2" >/dev/null 2>&1; then return 0; fi
  hi_fwd_ipt -t "$1" -N "$2"
  hi_log "changed: created chain $1/$2"
}
hi_fwd_rule() {
  local table="$1" chain="$2"
  shift 2
  if hi_fwd_ipt -t "$table" -C "$chain" "$@" 2>/dev/null; then return 0; fi
  hi_fwd_ipt -t "$table" -A "$chain" "$@"
  hi_log "changed: added $table/$chain $*"
}
hi_fwd_jump() {
  local table="$1" chain="$2"
  shift 2
  if hi_fwd_ipt -t "$table" -C "$chain" "$@" 2>/dev/null; then return 0; fi
  hi_fwd_ipt -t "$table" -I "$chain" 1 "$@"
  hi_log "changed: added $table/$chain $*"
}
# Deletes every rule of a built-in chain that jumps to a chain named PREFIX*, except the line KEEP.
hi_fwd_prune_jumps() {
  local table="$1" chain="$2" prefix="$3" keep="$4" line
  local -a words
  while IFS= read -r line; do
    [ "$line" != "$keep" ] || continue
    case "$line" in "-A $chain "*"-j $prefix"*) ;; *) continue ;; esac
    read -r -a words <<<"$line"
    words[0]=-D
    hi_fwd_ipt -t "$table" "${"$"}{words[@]}"
    hi_log "changed: removed $table rule $line"
  done < <(hi_fwd_ipt -t "$table" -S "$chain")
}
# Flushes and deletes every chain named PREFIX* except KEEP.
hi_fwd_prune_chains() {
  local table="$1" prefix="$2" keep="$3" chain
  while IFS= read -r chain; do
    if [ -z "$chain" ] || [ "$chain" = "$keep" ]; then continue; fi
    hi_fwd_ipt -t "$table" -F "$chain"
    hi_fwd_ipt -t "$table" -X "$chain"
    hi_log "changed: removed chain $table/$chain"
  done < <(hi_fwd_ipt -t "$table" -S | awk -v p="$prefix" '$1 == "-N" && index($2, p) == 1 { print $2 }')
}`;

function ruleLine(plan: ForwardPlan, r: ForwardRule): string {
    const chainVar = r.chain === plan.chains.dnat ? "DNAT" : r.chain === plan.chains.snat ? "SNAT" : "FILTER";
    return `hi_fwd_rule ${r.table} "$${chainVar}" ${r.args.map(shellQuote).join(" ")}`;
}

/**
 * The standalone rule script installed on the node: `apply` brings the rules to the plan (new chains
 * beside the old, jumps swapped, old chains removed), `remove` deletes every HI-FWD-* chain and jump.
 */
export function renderForwardScript(plan: ForwardPlan): string {
    const lines = [
        "#!/usr/bin/env bash",
        "# managed by hybridinfra: do not edit, changes are overwritten",
        "# Forwards public TCP ports over the overlay to the cluster's ingress (HybridInfra PublicIngressForward).",
        "set -euo pipefail",
        "hi_log() { printf '[ingress-forward] %s\\n' \"$*\"; }",
        "hi_fail() { printf '[ingress-forward] error: %s\\n' \"$*\" >&2; exit 1; }",
        FUNCTIONS,
        "",
        `DNAT=${shellQuote(plan.chains.dnat)}`,
        `SNAT=${shellQuote(plan.chains.snat)}`,
        `FILTER=${shellQuote(plan.chains.filter)}`,
        `OVERLAY=${shellQuote(plan.overlayInterface)}`,
        `PUBLIC=${shellQuote(plan.publicInterface ?? "")}`,
        "",
        "hi_fwd_apply() {",
        "  local waited=0",
        "  # At boot the overlay and the default route may come up after this runs: wait up to a minute.",
        "  while :; do",
        "    if [ -z \"$PUBLIC\" ]; then",
        "      PUBLIC=\"$(ip -4 route show default 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == \"dev\") { print $(i + 1); exit } }')\"",
        "    fi",
        "    if [ -n \"$PUBLIC\" ] && ip link show \"$PUBLIC\" >/dev/null 2>&1 && ip link show \"$OVERLAY\" >/dev/null 2>&1; then break; fi",
        "    if [ \"$waited\" -ge \"${HI_FWD_WAIT:-60}\" ]; then",
        "      [ -n \"$PUBLIC\" ] || hi_fail \"no IPv4 default route to detect the public interface from; set publicInterface\"",
        "      ip link show \"$PUBLIC\" >/dev/null 2>&1 || hi_fail \"public interface $PUBLIC does not exist\"",
        "      hi_fail \"overlay interface $OVERLAY does not exist; bring the overlay up first\"",
        "    fi",
        "    sleep 2",
        "    waited=$((waited + 2))",
        "  done",
        "  [ \"$PUBLIC\" != \"$OVERLAY\" ] || hi_fail \"the default route goes through the overlay ($OVERLAY); set publicInterface\"",
        "  hi_log \"public interface $PUBLIC, overlay $OVERLAY\"",
        "  if [ \"$(sysctl -n net.ipv4.ip_forward)\" != 1 ]; then",
        "    sysctl -q -w net.ipv4.ip_forward=1",
        "    hi_log \"changed: net.ipv4.ip_forward=1\"",
        "  fi",
        "  hi_fwd_chain nat \"$DNAT\"",
        "  hi_fwd_chain nat \"$SNAT\"",
        "  hi_fwd_chain filter \"$FILTER\"",
        ...forwardRules(plan).map((r) => `  ${ruleLine(plan, r)}`),
        "  # Jumps last: the new chains are complete before traffic reaches them.",
        "  hi_fwd_jump nat PREROUTING -i \"$PUBLIC\" -j \"$DNAT\"",
        "  hi_fwd_jump nat POSTROUTING -o \"$OVERLAY\" -j \"$SNAT\"",
        "  hi_fwd_jump filter FORWARD -j \"$FILTER\"",
        `  hi_fwd_prune_jumps nat PREROUTING ${CHAIN_PREFIX}DNAT- "-A PREROUTING -i $PUBLIC -j $DNAT"`,
        `  hi_fwd_prune_jumps nat POSTROUTING ${CHAIN_PREFIX}SNAT- "-A POSTROUTING -o $OVERLAY -j $SNAT"`,
        `  hi_fwd_prune_jumps filter FORWARD ${CHAIN_PREFIX}FILT- "-A FORWARD -j $FILTER"`,
        `  hi_fwd_prune_chains nat ${CHAIN_PREFIX}DNAT- "$DNAT"`,
        `  hi_fwd_prune_chains nat ${CHAIN_PREFIX}SNAT- "$SNAT"`,
        `  hi_fwd_prune_chains filter ${CHAIN_PREFIX}FILT- "$FILTER"`,
        "}",
        "",
        "hi_fwd_remove() {",
        ...removeLines().map((l) => `  ${l}`),
        "}",
        "",
        "case \"${1:-apply}\" in",
        "  apply) hi_fwd_apply ;;",
        "  remove) hi_fwd_remove ;;",
        "  *) hi_fail \"usage: $0 apply|remove\" ;;",
        "esac",
        "",
    ];
    return lines.join("\n");
}

function removeLines(): string[] {
    return [
        `hi_fwd_prune_jumps nat PREROUTING ${CHAIN_PREFIX}DNAT- ""`,
        `hi_fwd_prune_jumps nat POSTROUTING ${CHAIN_PREFIX}SNAT- ""`,
        `hi_fwd_prune_jumps filter FORWARD ${CHAIN_PREFIX}FILT- ""`,
        `hi_fwd_prune_chains nat ${CHAIN_PREFIX}DNAT- ""`,
        `hi_fwd_prune_chains nat ${CHAIN_PREFIX}SNAT- ""`,
        `hi_fwd_prune_chains filter ${CHAIN_PREFIX}FILT- ""`,
    ];
}

const UNIT = `[Unit]
Description=HybridInfra: forward public ports over the overlay to the cluster ingress
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=${FORWARD_BIN} apply

[Install]
WantedBy=multi-user.target
`;

/** The create body: install the rule script and a boot hook, enable forwarding, apply the rules now. */
export function renderForwardCreate(plan: ForwardPlan): string {
    return [
        "hi_ensure_cmd iptables iptables iptables iptables",
        "hi_ensure_cmd ip iproute2 iproute iproute2",
        "hi_ensure_cmd sysctl procps procps-ng procps",
        writeFileSnippet(FORWARD_SYSCTL, "net.ipv4.ip_forward = 1\n", "0644"),
        // No marker header: the script carries its own (after the shebang), which hi_remove_managed_file finds.
        writeFileSnippet(FORWARD_BIN, renderForwardScript(plan), "0755", "root:root", ""),
        "case \"$HI_INIT\" in",
        "  systemd)",
        // Heredocs are not indented: their lines are the file's lines.
        writeFileSnippet(FORWARD_UNIT, UNIT, "0644"),
        "    if [ \"$HI_CHANGED\" = 1 ]; then systemctl daemon-reload; fi",
        "    systemctl is-enabled --quiet hybridinfra-ingress-forward.service 2>/dev/null || { systemctl enable hybridinfra-ingress-forward.service >/dev/null; HI_CHANGED=1; hi_log \"enabled hybridinfra-ingress-forward.service\"; } ;;",
        "  openrc)",
        writeFileSnippet(FORWARD_OPENRC, `#!/bin/sh\n# managed by hybridinfra: do not edit, changes are overwritten\n${FORWARD_BIN} apply\n`, "0755", "root:root", ""),
        "    hi_service_enable local ;;",
        "  none)",
        "    hi_warn \"no init system found: the forward rules are not restored after a reboot\" ;;",
        "esac",
        "HI_FWD_OUT=\"$(HI_FWD_WAIT=0 bash " + FORWARD_BIN + " apply)\"",
        "printf '%s\\n' \"$HI_FWD_OUT\"",
        "case \"$HI_FWD_OUT\" in *\"changed:\"*) HI_CHANGED=1 ;; esac",
    ].join("\n");
}

/** The delete body: exactly this step's jumps and chains, its boot hook and files. */
export function renderForwardDelete(): string {
    return [
        "hi_log \"removing the ingress forward\"",
        "case \"$HI_INIT\" in",
        "  systemd)",
        "    systemctl disable hybridinfra-ingress-forward.service >/dev/null 2>&1 || true",
        `    hi_remove_managed_file ${FORWARD_UNIT}`,
        "    systemctl daemon-reload ;;",
        "  *) true ;;",
        "esac",
        `hi_remove_managed_file ${FORWARD_OPENRC}`,
        "if command -v iptables >/dev/null 2>&1; then",
        ...FUNCTIONS.split("\n").map((l) => `  ${l}`),
        ...removeLines().map((l) => `  ${l}`),
        "else",
        "  hi_log \"iptables is absent: no rules to remove\"",
        "fi",
        `hi_remove_managed_file ${FORWARD_BIN}`,
        // ip_forward stays on: the overlay's hub may route through this node too; only our drop-in goes.
        `hi_remove_managed_file ${FORWARD_SYSCTL}`,
    ].join("\n");
}
