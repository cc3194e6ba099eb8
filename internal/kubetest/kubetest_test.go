package kubetest

import (
	"os"
	"regexp"
	"testing"
)

// TestVersion: the harness looks for the binaries of the release scripts/kube-build builds.
func TestVersion(t *testing.T) {
	b, err := os.ReadFile("../../scripts/kube/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*k8s\.io/kubernetes (v\S+)`).FindSubmatch(b)
	if m == nil || string(m[1]) != Version {
		t.Fatalf("scripts/kube/go.mod builds k8s.io/kubernetes %q, kubetest.Version is %q", m, Version)
	}
}
