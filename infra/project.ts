/** The Pulumi project name (Pulumi.yaml `name`): the namespace of every config key the program reads. */
export const PROJECT = "hybrid-infra";
