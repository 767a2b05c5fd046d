// dist/ applied as Argo CD would: PreSync hooks, sync waves, PostSync hooks.
import { defineScenarios } from './scenarios';

defineScenarios('argocd', 60);
