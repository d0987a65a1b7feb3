/**
 * The Kubernetes manifests of deploy/k8s, checked from the files as `kubectl apply -k deploy/k8s` would take them:
 * 1. every document against the Kubernetes schemas (kubernetes-models: the API's OpenAPI schemas compiled to
 *    validators), by constructing the model class of its kind and calling validate();
 * 2. no unknown fields: those schemas allow them, so a typo such as `readOnlyRootFileSystem` would pass validate()
 *    and silently drop the setting; the documents are type-checked against the models' TypeScript types, whose
 *    excess-property check rejects what the API server's strict field validation rejects;
 * 3. the facts that tie them together and to the service: probes, ports, grace period, security, resources, the
 *    environment (accepted by the service's own loadConfig), the autoscaler's target, the disruption budget.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DockerfileParser, type Env } from 'dockerfile-ast';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler, type IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { type IPodDisruptionBudget, PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { type IService, Service } from 'kubernetes-models/v1';
import t, { type Test } from 'tap';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import { EnvSchema, loadConfig } from '../../src/config.js';
import { SHUTDOWN_GRACE_MS } from '../../src/shutdown-signals.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const K8S = join(REPO, 'deploy/k8s');

/** The longest a graceful shutdown may take. */
const SHUTDOWN_BOUND_S = SHUTDOWN_GRACE_MS / 1000;

type Doc = Record<string, unknown> & { apiVersion?: string; kind?: string; metadata?: { name?: string } };

interface Manifest {
  file: string;
  doc: Doc;
}

/** Each kind the manifests may hold: its model class, and the module and interface of its TypeScript type. */
const KINDS: Record<string, { Model: new (data: never) => { validate(): void }; types: [string, string] }> = {
  'apps/v1 Deployment': { Model: Deployment, types: ['kubernetes-models/apps/v1/Deployment', 'IDeployment'] },
  'v1 Service': { Model: Service, types: ['kubernetes-models/v1/Service', 'IService'] },
  'autoscaling/v2 HorizontalPodAutoscaler': {
    Model: HorizontalPodAutoscaler,
    types: ['kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler', 'IHorizontalPodAutoscaler'],
  },
  'policy/v1 PodDisruptionBudget': {
    Model: PodDisruptionBudget,
    types: ['kubernetes-models/policy/v1/PodDisruptionBudget', 'IPodDisruptionBudget'],
  },
};

/** YAML 1.1, as Kubernetes reads it (sigs.k8s.io/yaml); duplicate keys and syntax errors are errors. */
function parseYaml(file: string, text: string): Doc[] {
  return parseAllDocuments(text, { version: '1.1', uniqueKeys: true, prettyErrors: true }).flatMap((document) => {
    if (document.errors.length > 0) throw new Error(`${file}: ${document.errors.map((e) => e.message).join('; ')}`);
    const value = document.toJS() as Doc | null;
    return value === null ? [] : [value];
  });
}

function loadKustomization(): { resources: string[]; images: { name: string; newName?: string }[] } {
  const [kustomization] = parseYaml('kustomization.yaml', readFileSync(join(K8S, 'kustomization.yaml'), 'utf8'));
  return kustomization as unknown as { resources: string[]; images: { name: string; newName?: string }[] };
}

function loadManifests(): Manifest[] {
  return loadKustomization().resources.flatMap((file) =>
    parseYaml(file, readFileSync(join(K8S, file), 'utf8')).map((doc) => ({ file, doc })),
  );
}

const describe = (m: Manifest) => `${m.file}: ${m.doc.kind} ${m.doc.metadata?.name}`;

/** validate() of each document's model class. */
function schemaProblems(manifests: Manifest[]): string[] {
  const problems: string[] = [];
  for (const m of manifests) {
    const kind = KINDS[`${m.doc.apiVersion} ${m.doc.kind}`];
    if (!kind) {
      problems.push(`${describe(m)}: ${m.doc.apiVersion} ${m.doc.kind} is not an expected kind`);
      continue;
    }
    try {
      new kind.Model(structuredClone(m.doc) as never).validate();
    } catch (error) {
      problems.push(`${describe(m)}: ${(error as Error).message}`);
    }
  }
  return problems;
}

/** Each document as a literal of its model's TypeScript type: the excess-property check rejects unknown fields. */
function unknownFieldProblems(manifests: Manifest[]): string[] {
  const known = manifests.filter((m) => KINDS[`${m.doc.apiVersion} ${m.doc.kind}`]);
  const file = join(REPO, 'test', '__k8s_manifests__.ts'); // in memory only; placed here to resolve node_modules
  const firstLines: number[] = [];
  let source = '';
  for (const [i, m] of known.entries()) {
    const [module, type] = KINDS[`${m.doc.apiVersion} ${m.doc.kind}`].types;
    firstLines.push(source.split('\n').length - 1);
    source += `import type { ${type} as T${i} } from '${module}';\nexport const m${i}: T${i} = ${JSON.stringify(m.doc, null, 1)};\n`;
  }
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists } = host;
  host.getSourceFile = (name, languageVersion, ...rest) =>
    name === file ? ts.createSourceFile(name, source, languageVersion) : getSourceFile(name, languageVersion, ...rest);
  host.fileExists = (name) => name === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, ' ');
    if (d.file?.fileName !== file || d.start === undefined) return `${d.file?.fileName ?? 'TypeScript'}: ${message}`;
    const line = d.file.getLineAndCharacterOfPosition(d.start).line;
    const index = firstLines.findLastIndex((first) => first <= line);
    return `${describe(known[index])}: ${message}`;
  });
}

/** Kubernetes quantities: cpu ("500m", "2") and memory ("512Mi", "1G"). */
function quantity(value: string | number | undefined): number {
  if (value === undefined) return Number.NaN;
  const m = /^(\d+(?:\.\d+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(String(value));
  if (!m) return Number.NaN;
  const scale: Record<string, number> = {
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
  };
  return Number(m[1]) * (m[2] ? scale[m[2]] : 1);
}

interface DockerfileFacts {
  port: string | undefined;
  grpcPort: string | undefined;
  exposed: string[];
  uid: number | undefined;
}

/** The final stage of the Dockerfile: its ENV PORT and GRPC_PORT, EXPOSEd ports and USER uid. */
function dockerfileFacts(): DockerfileFacts {
  const instructions = DockerfileParser.parse(readFileSync(join(REPO, 'Dockerfile'), 'utf8')).getInstructions();
  const last = instructions.findLastIndex((i) => i.getKeyword() === 'FROM');
  const facts: DockerfileFacts = { port: undefined, grpcPort: undefined, exposed: [], uid: undefined };
  for (const instruction of instructions.slice(last)) {
    const args = instruction.getArguments().map((a) => a.getValue());
    if (instruction.getKeyword() === 'ENV')
      for (const p of (instruction as Env).getProperties()) {
        if (p.getName() === 'PORT') facts.port = p.getValue() ?? '';
        if (p.getName() === 'GRPC_PORT') facts.grpcPort = p.getValue() ?? '';
      }
    if (instruction.getKeyword() === 'EXPOSE') facts.exposed.push(...args.map((a) => a.replace(/\/tcp$/, '')));
    if (instruction.getKeyword() === 'USER')
      facts.uid = /^\d+/.test(args[0]) ? Number.parseInt(args[0], 10) : undefined;
  }
  return facts;
}

const matches = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  selector !== undefined &&
  Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/** The facts that tie the manifests to each other, to the image and to the service. */
function crossProblems(manifests: Manifest[]): string[] {
  const problems: string[] = [];
  const one = <T>(kind: string): T | undefined => {
    const found = manifests.filter((m) => m.doc.kind === kind);
    if (found.length !== 1) problems.push(`expected one ${kind}, found ${found.length}`);
    return found[0]?.doc as T | undefined;
  };
  const deployment = one<IDeployment>('Deployment');
  const service = one<IService>('Service');
  const hpa = one<IHorizontalPodAutoscaler>('HorizontalPodAutoscaler');
  const pdb = one<IPodDisruptionBudget>('PodDisruptionBudget');
  const pod = deployment?.spec?.template;
  const containers = pod?.spec?.containers ?? [];
  if (!deployment || !pod || containers.length !== 1)
    return [...problems, 'the Deployment must run exactly one container'];
  const container = containers[0];
  const podLabels = pod.metadata?.labels;
  const dockerfile = dockerfileFacts();

  if (!matches(deployment.spec?.selector.matchLabels, podLabels))
    problems.push('the Deployment selector does not match the pod labels');
  if (hpa && deployment.spec?.replicas !== undefined)
    problems.push('spec.replicas is set although the HorizontalPodAutoscaler owns the replica count');

  // Ports and probes
  const http = container.ports?.find((p) => p.name === 'http') ?? container.ports?.[0];
  const env = new Map((container.env ?? []).map((e) => [e.name, e]));
  const port = Number(env.get('PORT')?.value ?? 3000);
  if (http?.containerPort !== port) problems.push(`containerPort ${http?.containerPort} is not the PORT ${port}`);
  if (String(port) !== (dockerfile.port ?? '3000') || !dockerfile.exposed.includes(String(port)))
    problems.push(`the Dockerfile's PORT/EXPOSE (${dockerfile.port}/${dockerfile.exposed}) is not ${port}`);
  const resolvePort = (p: string | number | undefined) =>
    typeof p === 'number' ? p : container.ports?.find((c) => c.name === p)?.containerPort;
  // gRPC: the container port named grpc is GRPC_PORT (default 8001), the image exposes it, the Service carries it.
  const grpcSetting = String(env.get('GRPC_PORT')?.value ?? dockerfile.grpcPort ?? '8001');
  const grpcPort = grpcSetting === 'off' ? undefined : Number(grpcSetting);
  const grpc = container.ports?.find((p) => p.name === 'grpc');
  if (grpcPort === undefined) problems.push('GRPC_PORT is off: the manifests serve no gRPC');
  else {
    if (grpc?.containerPort !== grpcPort)
      problems.push(`the grpc containerPort ${grpc?.containerPort} is not the GRPC_PORT ${grpcPort}`);
    if (!dockerfile.exposed.includes(String(grpcPort)))
      problems.push(`the Dockerfile does not EXPOSE the GRPC_PORT ${grpcPort}`);
    if (!service?.spec?.ports?.some((p) => p.name === 'grpc' && resolvePort(p.targetPort ?? p.port) === grpcPort))
      problems.push(`no Service port named grpc reaches the GRPC_PORT ${grpcPort}`);
  }
  const probes: [string, typeof container.livenessProbe, string][] = [
    ['livenessProbe', container.livenessProbe, '/healthz'],
    ['readinessProbe', container.readinessProbe, '/readyz'],
  ];
  if (container.startupProbe) probes.push(['startupProbe', container.startupProbe, '/healthz']);
  for (const [name, probe, path] of probes) {
    if (probe?.httpGet?.path !== path) problems.push(`${name} is not an HTTP GET of ${path}`);
    if (resolvePort(probe?.httpGet?.port) !== port) problems.push(`${name} does not target port ${port}`);
  }

  // Graceful termination: preStop, then SIGTERM and the service's bounded shutdown, all within the grace period.
  const preStop = container.lifecycle?.preStop?.sleep?.seconds ?? 0;
  const grace = pod.spec?.terminationGracePeriodSeconds ?? 30;
  if (!(grace > preStop + SHUTDOWN_BOUND_S))
    problems.push(
      `terminationGracePeriodSeconds ${grace} is not above preStop ${preStop} s + shutdown ${SHUTDOWN_BOUND_S} s`,
    );

  // Security
  const podSecurity = pod.spec?.securityContext;
  const security = container.securityContext;
  if ((security?.runAsNonRoot ?? podSecurity?.runAsNonRoot) !== true) problems.push('runAsNonRoot is not true');
  const uid = security?.runAsUser ?? podSecurity?.runAsUser ?? dockerfile.uid;
  if (uid === undefined || uid === 0) problems.push('the container may run as root');
  if (uid !== dockerfile.uid) problems.push(`runAsUser ${uid} is not the Dockerfile's USER ${dockerfile.uid}`);
  if (security?.readOnlyRootFilesystem !== true) problems.push('readOnlyRootFilesystem is not true');
  if (security?.allowPrivilegeEscalation !== false) problems.push('allowPrivilegeEscalation is not false');
  if (security?.privileged === true) problems.push('the container is privileged');
  if (!security?.capabilities?.drop?.includes('ALL')) problems.push('capabilities do not drop ALL');

  // Resources
  const { requests = {}, limits = {} } = container.resources ?? {};
  for (const resource of ['cpu', 'memory']) {
    const request = quantity(requests[resource]);
    const limit = quantity(limits[resource]);
    if (!(request > 0 && limit > 0)) problems.push(`${resource} needs a request and a limit`);
    else if (request > limit) problems.push(`${resource} request ${requests[resource]} exceeds its limit`);
  }

  // The environment: known variables, values the service accepts (resolved as the kubelet would).
  const values: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (!(e.name in EnvSchema.properties)) problems.push(`env ${e.name} is not a setting of the service`);
    const field = e.valueFrom?.resourceFieldRef;
    if (e.value !== undefined) values[e.name] = e.value;
    else if (field) {
      if (field.containerName !== undefined && field.containerName !== container.name)
        problems.push(`env ${e.name} refers to another container`);
      const amount = quantity((field.resource.startsWith('limits.') ? limits : requests)[field.resource.split('.')[1]]);
      values[e.name] = String(Math.ceil(amount / quantity(field.divisor ?? '1')));
    } else if (!e.valueFrom?.secretKeyRef?.optional && !e.valueFrom?.configMapKeyRef?.optional)
      problems.push(`env ${e.name} has no value the test can resolve`);
  }
  if (!env.has('WORKERS')) problems.push('WORKERS is not set: the pool would size itself to the node, not the pod');
  try {
    loadConfig(values);
  } catch (error) {
    problems.push(`the service refuses the environment: ${(error as Error).message}`);
  }

  // Service
  if (service) {
    if (!matches(service.spec?.selector, podLabels))
      problems.push('the Service selector does not match the pod labels');
    for (const p of service.spec?.ports ?? []) {
      const want = p.name === 'grpc' ? grpcPort : port;
      if (resolvePort(p.targetPort ?? p.port) !== want)
        problems.push(`Service port ${p.port} does not reach port ${want}`);
    }
  }

  // Autoscaler
  if (hpa?.spec) {
    const target = hpa.spec.scaleTargetRef;
    if (target.apiVersion !== 'apps/v1' || target.kind !== 'Deployment' || target.name !== deployment.metadata?.name)
      problems.push('the HorizontalPodAutoscaler does not target the Deployment');
    if (!hpa.spec.metrics?.some((m) => m.type === 'Resource' && m.resource?.name === 'cpu'))
      problems.push('the HorizontalPodAutoscaler does not scale on CPU');
    if (!(quantity(requests.cpu) > 0)) problems.push('CPU utilization needs a CPU request');
    if ((hpa.spec.minReplicas ?? 1) < 2) problems.push('minReplicas below 2: one pod is a single point of failure');
    if ((hpa.spec.minReplicas ?? 1) > hpa.spec.maxReplicas) problems.push('minReplicas above maxReplicas');
  }

  // Disruption budget: selects these pods, and lets a drain evict one of them.
  if (pdb?.spec) {
    if (!matches(pdb.spec.selector?.matchLabels, podLabels))
      problems.push('the PodDisruptionBudget selector does not match the pod labels');
    const { maxUnavailable, minAvailable } = pdb.spec;
    const allowsEviction =
      maxUnavailable !== undefined
        ? String(maxUnavailable) !== '0' && String(maxUnavailable) !== '0%'
        : typeof minAvailable === 'number' && minAvailable < (hpa?.spec?.minReplicas ?? 1);
    if (!allowsEviction) problems.push('the PodDisruptionBudget would block every voluntary eviction');
  }

  // The image kustomize rewrites is the one the Deployment runs.
  const imageName = container.image?.replace(/[:@].*$/, '');
  if (!loadKustomization().images?.some((i) => i.name === imageName))
    problems.push(`kustomization.yaml images does not rewrite ${imageName}`);
  return problems;
}

// ---------------------------------------------------------------------------------------------------------------

const manifests = loadManifests();

t.test('kustomization.yaml lists exactly the manifests of deploy/k8s', async (t) => {
  const files = readdirSync(K8S).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml');
  t.same([...loadKustomization().resources].sort(), files.sort(), 'resources = the YAML files beside it');
  t.same(
    manifests.map((m) => m.doc.kind).sort(),
    ['Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Service'],
    'one Deployment, HorizontalPodAutoscaler, PodDisruptionBudget and Service',
  );
});

t.test('every manifest validates against the Kubernetes schemas', async (t) => {
  t.same(schemaProblems(manifests), [], 'validate() accepts every document');
});

t.test('no manifest has a field Kubernetes does not know', async (t) => {
  t.same(unknownFieldProblems(manifests), [], 'every document type-checks as its kind');
});

t.test('the manifests agree with each other, the Dockerfile and the service', async (t) => {
  t.same(crossProblems(manifests), [], 'no problem found');
});

// biome-ignore lint/suspicious/noExplicitAny: the mutations below reach into the documents as plain data
type Any = any;
const container = (d: Any) => d.spec.template.spec.containers[0];

/** A deep copy of the manifests with one document changed. */
function mutate(kind: string, change: (doc: Any) => unknown): Manifest[] {
  const copy = structuredClone(manifests);
  const target = copy.find((m) => m.doc.kind === kind);
  if (!target) throw new Error(`no ${kind}`);
  change(target.doc);
  return copy;
}

const hasProblem = (t: Test, problems: string[], expected: RegExp, name: string) =>
  t.ok(
    problems.some((p) => expected.test(p)),
    name,
    { found: problems, wanted: expected },
  );

t.test('broken manifests are caught', async (t) => {
  hasProblem(
    t,
    schemaProblems(mutate('Deployment', (d) => (container(d).ports[0].containerPort = 'http'))),
    /containerPort must be integer/,
    'schema: a string containerPort',
  );
  const typo = mutate('Deployment', (d) => {
    const security = container(d).securityContext;
    delete security.readOnlyRootFilesystem;
    security.readOnlyRootFileSystem = true;
  });
  t.same(schemaProblems(typo), [], 'validate() alone accepts a misspelt field…');
  hasProblem(
    t,
    unknownFieldProblems(typo),
    /'"readOnlyRootFileSystem"' does not exist in type 'ISecurityContext'/,
    '…the type check does not',
  );
  const cases: [string, Manifest[], RegExp][] = [
    [
      'readiness on /healthz',
      mutate('Deployment', (d) => (container(d).readinessProbe.httpGet.path = '/healthz')),
      /readinessProbe is not an HTTP GET of \/readyz/,
    ],
    [
      'liveness on another port',
      mutate('Deployment', (d) => (container(d).livenessProbe.httpGet.port = 8080)),
      /livenessProbe does not target port 3000/,
    ],
    [
      'grace period within the shutdown bound',
      mutate('Deployment', (d) => (d.spec.template.spec.terminationGracePeriodSeconds = 10)),
      /terminationGracePeriodSeconds 10 is not above/,
    ],
    [
      'root filesystem writable',
      mutate('Deployment', (d) => (container(d).securityContext.readOnlyRootFilesystem = false)),
      /readOnlyRootFilesystem is not true/,
    ],
    [
      'runs as root',
      mutate('Deployment', (d) => (d.spec.template.spec.securityContext.runAsUser = 0)),
      /may run as root/,
    ],
    ['capabilities kept', mutate('Deployment', (d) => delete container(d).securityContext.capabilities), /drop ALL/],
    [
      'no memory limit',
      mutate('Deployment', (d) => delete container(d).resources.limits.memory),
      /memory needs a request and a limit/,
    ],
    [
      'a misspelt setting',
      mutate('Deployment', (d) => container(d).env.push({ name: 'WORKER', value: '2' })),
      /env WORKER is not a setting/,
    ],
    [
      'a setting the service refuses',
      mutate('Deployment', (d) => container(d).env.push({ name: 'WORKER_NICE', value: '40' })),
      /refuses the environment: .*WORKER_NICE/,
    ],
    [
      'Service to the wrong port',
      mutate('Service', (d) => (d.spec.ports[0].targetPort = 8080)),
      /Service port 80 does not reach port 3000/,
    ],
    [
      'gRPC Service port to the HTTP port',
      mutate('Service', (d) => (d.spec.ports[1].targetPort = 'http')),
      /Service port 8001 does not reach port 8001|no Service port named grpc reaches the GRPC_PORT 8001/,
    ],
    [
      'no grpc container port',
      mutate('Deployment', (d) => container(d).ports.splice(1, 1)),
      /the grpc containerPort undefined is not the GRPC_PORT 8001/,
    ],
    [
      'gRPC turned off',
      mutate('Deployment', (d) => container(d).env.push({ name: 'GRPC_PORT', value: 'off' })),
      /GRPC_PORT is off/,
    ],
    [
      'Service selects other pods',
      mutate('Service', (d) => (d.spec.selector = { app: 'other' })),
      /Service selector does not match/,
    ],
    [
      'HPA targets another Deployment',
      mutate('HorizontalPodAutoscaler', (d) => (d.spec.scaleTargetRef.name = 'other')),
      /does not target the Deployment/,
    ],
    [
      'PDB selects other pods',
      mutate('PodDisruptionBudget', (d) => (d.spec.selector.matchLabels = { app: 'other' })),
      /PodDisruptionBudget selector does not match/,
    ],
    [
      'PDB blocks drains',
      mutate('PodDisruptionBudget', (d) => (d.spec.maxUnavailable = 0)),
      /block every voluntary eviction/,
    ],
  ];
  for (const [name, broken, expected] of cases) hasProblem(t, crossProblems(broken), expected, name);
});
