"""What the Kubernetes runtime raises when the cluster says no (its own module, so the
runtime and the exec/log streams can both raise it without importing each other)."""


class KubernetesActionError(RuntimeError):
    """The API server answered but refused, or the service has no workload to act on."""


class KubernetesWriteRefused(KubernetesActionError):
    """The production guard said no: a read-only context."""
