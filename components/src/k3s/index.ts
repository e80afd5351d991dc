// Re-exported from the package root (components/src/index.ts).
export { Datastore, FailoverProfile, NodeRole } from "./model";
export type { K3sAirgapArgs, K3sBackupArgs, K3sBackupS3Args, K3sClusterArgs, K3sInstallArgs, K3sNodeArgs, K3sSettingsArgs } from "./model";
export { failoverTimings } from "./failover";
export { DATASTORE_ENDPOINT_FIX, datastoreEndpointProblem } from "./validate";
export { planNodeConfig } from "./plan";
export { K3S_SETTINGS_OUTPUT, k3sChangeProblems, recordK3sSettings } from "./day2";
export type { K3sRecordedSettings } from "./day2";
export { K3sAgent, K3sServer } from "./node";
export type { K3sAgentArgs, K3sNodeCommonArgs, K3sServerArgs } from "./node";
export { K3sCluster } from "./cluster";

// Only for the composition layer (cluster/), the repository's tools and tests: not part of the package's API.
export { apiUrl } from "./model";
export { parseGoDuration, RESCHEDULE_SECONDS, validateFailoverTimings } from "./failover";
export { k3sClusterProblems, validateK3sCluster } from "./validate";
export { nodeDecisions, planK3s } from "./plan";
export type { K3sConfigValues, K3sPlan } from "./plan";
export { compareK3sVersions } from "./day2";
export { k3sServerInternals } from "./node";
export { k3sClusterInternals } from "./cluster";
export { K3S_AGENT_FLAGS, K3S_SERVER_FLAGS } from "./flags";
export {
    cronToOnCalendar,
    DEFAULT_BACKUP_SCHEDULE,
    etcdBackupEntries,
    K3S_SQLITE_DB,
    parseCron,
    planEtcdBackup,
    planSqliteBackup,
    renderSqliteBackupDelete,
    renderSqliteBackupEnv,
    renderSqliteBackupStep,
    SECRET_BACKUP_S3,
    SQLITE_BACKUP_CONF,
    SQLITE_BACKUP_S3_KEY_FILE,
    SQLITE_BACKUP_SCRIPT,
    SQLITE_BACKUP_SH,
    validateK3sBackup,
} from "./backup";
export { configKeys, renderK3sConfig, yamlQuotedInner } from "./render";
export {
    KUBECONFIG_BEGIN,
    KUBECONFIG_END,
    renderConfigDelete,
    renderConfigStep,
    renderInstallScript,
    renderKubeconfigScript,
    renderNodeReadyScript,
    renderNodeRemoveScript,
    renderTokenRotateScript,
    renderUninstallScript,
} from "./scripts";
export { extractKubeconfig } from "./kubeconfig";
