/**
 * k3s.backup's S3 secret key: the stack config names a secret config key (`secretKeyConfig`, default
 * `backupS3SecretKey`), read here and handed to the library as a secret (`K3sBackupS3Args.secretKey`).
 */
import * as pulumi from "@pulumi/pulumi";
import { ClusterK3sArgs, HybridInfraConfigError } from "@hybridinfra/components";
import { ClusterConfig } from "./config";

/** The secret config key that holds the S3 secret access key when `k3s.backup.s3.secretKeyConfig` is not set. */
export const DEFAULT_BACKUP_S3_SECRET_CONFIG = "backupS3SecretKey";

/**
 * `cfg.k3s` as library args: `backup.s3.secretKeyConfig` replaced by the secret it names. The key is read only
 * when `accessKey` is set (without it k3s uses the host's own AWS credentials); a missing one is an error.
 */
export function k3sArgsFromConfig(k3s: NonNullable<ClusterConfig["k3s"]>, readSecret: (key: string) => string | undefined): ClusterK3sArgs {
    const s3 = k3s.backup?.s3;
    if (s3 === undefined) return { ...k3s, ...(k3s.backup !== undefined ? { backup: { ...k3s.backup, s3: undefined } } : {}) };
    const { secretKeyConfig, ...rest } = s3;
    const key = secretKeyConfig ?? DEFAULT_BACKUP_S3_SECRET_CONFIG;
    let secretKey: pulumi.Output<string> | undefined;
    if (rest.accessKey !== undefined) {
        const value = readSecret(key);
        if (value === undefined || value === "") {
            throw new HybridInfraConfigError(
                key,
                `is not set; k3s.backup.s3.accessKey ${JSON.stringify(rest.accessKey)} needs its secret access key`,
                `run \`pulumi config set --secret ${key} <secret access key>\``,
            );
        }
        secretKey = pulumi.secret(value);
    }
    return { ...k3s, backup: { ...k3s.backup, s3: { ...rest, ...(secretKey !== undefined ? { secretKey } : {}) } } };
}
