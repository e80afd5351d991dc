export * from "./tls";
export * from "./originCa";
