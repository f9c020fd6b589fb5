//! ONAP k8splugin operations, natively, against a Kubernetes API server.
