/**
 * The ingress-forward step: the rule script it installs (forward-script.sh next to this file), its boot
 * hooks, and the step's create and delete (ingress-forward.sh); the bash is in those templates (see
 * ../host/shellTemplate.ts), this file supplies the values: chains, interfaces, rules and paths.
 */
import { shellQuote } from "../util/shell";
import { writeFileSnippet } from "../host/script";
import { loadShellTemplates } from "../host/shellTemplate";
import { CHAIN_PREFIX, ForwardPlan, ForwardRule, forwardRules } from "./plan";

/** Where the rule script lives on the node, so the rules come back after a reboot. */
export const FORWARD_BIN = "/usr/local/sbin/hybridinfra-ingress-forward";
export const FORWARD_UNIT = "/etc/systemd/system/hybridinfra-ingress-forward.service";
export const FORWARD_OPENRC = "/etc/local.d/hybridinfra-ingress-forward.start";
export const FORWARD_SYSCTL = "/etc/sysctl.d/90-hybridinfra-ingress-forward.conf";

const SCRIPT = loadShellTemplates(__dirname, "forward-script.sh");
const STEP = loadShellTemplates(__dirname, "ingress-forward.sh");

/** Bash functions shared by the rule script and the delete step (forward-script.sh#functions). */
const FUNCTIONS = SCRIPT.get("functions").renderBlock();

/** Each line of a block indented by two spaces (the delete runs the functions inside an `if`). */
function indent(block: string): string {
    return block
        .split("\n")
        .map((l) => `  ${l}`)
        .join("\n");
}

function ruleLine(plan: ForwardPlan, r: ForwardRule): string {
    const chainVar = r.chain === plan.chains.dnat ? "DNAT" : r.chain === plan.chains.snat ? "SNAT" : "FILTER";
    return `hi_fwd_rule ${r.table} "$${chainVar}" ${r.args.map(shellQuote).join(" ")}`;
}

/**
 * The standalone rule script installed on the node: `apply` brings the rules to the plan (new chains
 * beside the old, jumps swapped, old chains removed), `remove` deletes every HI-FWD-* chain and jump.
 */
export function renderForwardScript(plan: ForwardPlan): string {
    const rules = forwardRules(plan).map((r) => `  ${ruleLine(plan, r)}`);
    return SCRIPT.get("script").render({
        functions: FUNCTIONS,
        dnat: shellQuote(plan.chains.dnat),
        snat: shellQuote(plan.chains.snat),
        filter: shellQuote(plan.chains.filter),
        overlay: shellQuote(plan.overlayInterface),
        public: shellQuote(plan.publicInterface ?? ""),
        rules: rules.length > 0 ? rules.join("\n") : undefined,
        prefix: CHAIN_PREFIX,
        remove: removeLines(),
    });
}

/** The rule script's `remove`, indented (forward-script.sh#remove). */
function removeLines(): string {
    return indent(SCRIPT.get("remove").renderBlock({ prefix: CHAIN_PREFIX }));
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
    return STEP.get("create").renderBlock({
        "sysctl-file": writeFileSnippet(FORWARD_SYSCTL, "net.ipv4.ip_forward = 1\n", "0644"),
        "script-file": writeFileSnippet(FORWARD_BIN, renderForwardScript(plan), "0755", "root:root", ""),
        // Heredocs are not indented: their lines are the file's lines.
        "unit-file": writeFileSnippet(FORWARD_UNIT, UNIT, "0644"),
        "boot-file": writeFileSnippet(FORWARD_OPENRC, SCRIPT.get("boot").render({ bin: FORWARD_BIN }), "0755", "root:root", ""),
        bin: FORWARD_BIN,
    });
}

/** The delete body: exactly this step's jumps and chains, its boot hook and files. */
export function renderForwardDelete(): string {
    return STEP.get("delete").renderBlock({
        unit: FORWARD_UNIT,
        openrc: FORWARD_OPENRC,
        functions: indent(FUNCTIONS),
        remove: removeLines(),
        bin: FORWARD_BIN,
        sysctl: FORWARD_SYSCTL,
    });
}
