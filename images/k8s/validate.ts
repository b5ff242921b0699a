/**
 * Offline validation against the Kubernetes API schemas: kubernetes-models ships validators compiled
 * from the Kubernetes OpenAPI definitions (ajv); each object is checked by the one for its kind.
 */
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { RuntimeClass } from 'kubernetes-models/node.k8s.io/v1/RuntimeClass';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Pod } from 'kubernetes-models/v1/Pod';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { ValidatingAdmissionPolicy } from 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy';
import { ValidatingAdmissionPolicyBinding } from 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding';
import { ContrastError, errorMessage } from '../../lib/errors.js';
import type { KubeObject } from './kube-object.js';

export class ManifestInvalidError extends ContrastError {
  readonly code = 'ERR_MANIFEST_INVALID';
}

type Validator = (data: unknown) => void;

const construct =
  <T extends { validate(): void }>(make: (data: never) => T): Validator =>
  (data) => {
    make(data as never).validate();
  };

/** apiVersion/kind -> validator. A kind missing here is an error, never a silent pass. */
export function validators(): ReadonlyMap<string, Validator> {
  return new Map<string, Validator>([
    ['apps/v1/DaemonSet', construct((d) => new DaemonSet(d))],
    ['apps/v1/Deployment', construct((d) => new Deployment(d))],
    ['node.k8s.io/v1/RuntimeClass', construct((d) => new RuntimeClass(d))],
    ['v1/ConfigMap', construct((d) => new ConfigMap(d))],
    ['v1/Pod', construct((d) => new Pod(d))],
    ['v1/Service', construct((d) => new Service(d))],
    ['v1/ServiceAccount', construct((d) => new ServiceAccount(d))],
    ['rbac.authorization.k8s.io/v1/ClusterRole', construct((d) => new ClusterRole(d))],
    ['rbac.authorization.k8s.io/v1/ClusterRoleBinding', construct((d) => new ClusterRoleBinding(d))],
    ['admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy', construct((d) => new ValidatingAdmissionPolicy(d))],
    [
      'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding',
      construct((d) => new ValidatingAdmissionPolicyBinding(d)),
    ],
  ]);
}

/** Throws ManifestInvalidError naming the object and the first schema violations. */
export function validateObject(obj: KubeObject, table: ReadonlyMap<string, Validator> = validators()): void {
  const key = `${obj.apiVersion}/${obj.kind}`;
  const name = `${obj.kind}/${obj.metadata?.name ?? '?'}`;
  const validate = table.get(key);
  if (validate === undefined) throw new ManifestInvalidError(`${name}: no schema for ${key}`);
  try {
    // A JSON round trip checks what a YAML/JSON reader would see, not the in-memory object.
    validate(JSON.parse(JSON.stringify(obj)));
  } catch (err) {
    throw new ManifestInvalidError(`${name}: ${errorMessage(err)}`, { cause: err });
  }
}
