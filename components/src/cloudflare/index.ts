export * from "./model";
export * from "./plan";
export * from "./originCa";
export * from "./tunnel";
