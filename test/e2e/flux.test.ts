// dist/ applied as Flux would: Kustomizations pre -> main -> post with dependsOn and wait.
import { defineScenarios } from './scenarios';

defineScenarios('flux', 62);
