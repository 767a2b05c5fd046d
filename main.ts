// The desired Redis Cluster. Change it, run `npm run synth`, commit dist/; Argo CD or Flux does the rest.
import { runSynthCli } from './charts/synth-cli';

runSynthCli({
  masters: 3,
  replicasPerMaster: 1,
  // A maintained minor version, pinned (docs/operations.md, "The Redis image").
  image: 'redis:8.2',
  jobsImage: 'node:24.22-alpine',
  // Alibaba Cloud ACK Serverless / ECI: pods on elastic container instances, ESSD disks.
  podLabels: { 'alibabacloud.com/eci': 'true' },
  storageClassName: 'alicloud-disk-essd',
  storageSize: '20Gi',
  resources: {
    requests: { cpu: '1', memory: '2Gi' },
    limits: { cpu: '1', memory: '2Gi' },
  },
  maxmemory: '1536Mi',
  maxmemoryPolicy: 'noeviction',
  // Create it once: kubectl create secret generic redis-cluster-auth --from-literal=password='...'
  passwordSecret: { name: 'redis-cluster-auth', key: 'password' },
  gitops: 'argocd',
  // Metrics and alerts (needs the Prometheus Operator; docs/operations.md, "Metrics and alerts"):
  // monitoring: { serviceMonitor: { labels: { release: 'kube-prometheus-stack' } }, prometheusRule: { labels: { release: 'kube-prometheus-stack' } } },
});
