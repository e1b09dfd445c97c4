// Package kubernetes holds no code: its directory holds Roster's Kubernetes
// manifests (a StatefulSet of three voters, a headless peer Service, a
// client Service and a PodDisruptionBudget), and its test decodes them
// strictly into the Kubernetes API types and checks the properties a
// Raft cluster needs from them (see README.md beside this file).
//
// It is its own Go module (deploy/go.mod) so that the Kubernetes API types
// never enter the main module's dependencies.
package kubernetes
