/**
 * The ClusterIssuer a `cert-manager` app uses unless told otherwise: the one `CertManager` makes from
 * `acmeEmail`. Shared by the app layer (its Certificates) and the add-on (the issuer).
 */
export const DEFAULT_CLUSTER_ISSUER = "letsencrypt";
