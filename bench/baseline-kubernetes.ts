import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";

/** A recorded resource to register again: type token, name, inputs. */
export interface ReplayedResource {
    readonly type: string;
    readonly name: string;
    readonly inputs: Record<string, unknown>;
}

/**
 * The same Kubernetes objects as herd builds them, registered as plain typed resources (no
 * components), with the inputs herd gave them.
 */
export function kubernetesBaseline(resources: readonly ReplayedResource[]) {
    const outputs: pulumi.Output<unknown>[] = [];
    for (const r of resources) {
        const inputs = r.inputs as never;
        switch (r.type) {
            case "kubernetes:core/v1:Namespace":
                outputs.push(new k8s.core.v1.Namespace(r.name, inputs).metadata);
                break;
            case "kubernetes:core/v1:ConfigMap":
                outputs.push(new k8s.core.v1.ConfigMap(r.name, inputs).metadata);
                break;
            case "kubernetes:apps/v1:Deployment":
                outputs.push(new k8s.apps.v1.Deployment(r.name, inputs).metadata);
                break;
            case "kubernetes:core/v1:Service":
                outputs.push(new k8s.core.v1.Service(r.name, inputs).metadata);
                break;
            case "kubernetes:policy/v1:PodDisruptionBudget":
                outputs.push(new k8s.policy.v1.PodDisruptionBudget(r.name, inputs).metadata);
                break;
            default:
                if (r.type.startsWith("kubernetes:monitoring.coreos.com/v1:")) {
                    outputs.push(new k8s.apiextensions.CustomResource(r.name, r.inputs as never).metadata);
                } else {
                    throw new Error(`the baseline has no plain equivalent for ${r.type}`);
                }
        }
    }
    return { metadata: pulumi.all(outputs) };
}
