// A pod of the StatefulSet as the program addresses it. Types only.

/** Where a pod is reached, as given on the command line (or as discovered). */
export interface PodAddress {
  /** Host name or IP as given. */
  readonly host: string;
  readonly port: number;
}

export interface Pod extends PodAddress {
  readonly ordinal: number;
  /** Resolved IPv4/IPv6 address: CLUSTER MEET and MIGRATE need an IP. */
  readonly ip: string;
  /** For humans: "pod 3 (redis-cluster-3.redis-cluster-svc...:6379)". */
  readonly name: string;
}
