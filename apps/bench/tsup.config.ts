import { defineConfig, type Options } from 'tsup';
import { appBuild } from '../../tooling/tsup';

// One build with two entries (not two builds: each would clean dist/ under the other).
const base = appBuild('src/index.ts') as Options;

export default defineConfig({ ...base, entry: ['src/index.ts', 'src/soak.ts'] });
