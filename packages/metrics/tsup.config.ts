import { packageBuild } from '../../tooling/tsup';

// Three doors: the root (no peer dependency), and one per exporter, so a user of one never
// loads the other's peer.
export default packageBuild({
  entry: ['src/index.ts', 'src/prometheus/index.ts', 'src/opentelemetry/index.ts'],
  external: ['prom-client', '@opentelemetry/api'],
});
