// Package kubernetes holds authsvc's Kubernetes manifests (apply them with
// `kubectl apply -k deploy/kubernetes`). It has no code: its tests parse every
// manifest and check the init container's command, the probes and the
// ConfigMap's config.yaml against the real authsvc binary.
package kubernetes
