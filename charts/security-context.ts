import type { k8s } from 'cdk8s-plus-27';

/** Every container of the chart: no privilege escalation, read-only root filesystem, non-root, no capabilities. */
export const RESTRICTED_CONTAINER_SECURITY_CONTEXT: k8s.SecurityContext = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
};
