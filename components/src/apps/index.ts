export * from "./model";
export * from "./validate";
export * from "./plan";
export * from "./exposedApp";
