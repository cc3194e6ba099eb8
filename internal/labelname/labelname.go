// Package labelname turns metadata keys (container labels, Kubernetes labels, LB tags) into
// Prometheus label names, the one way both binaries do it.
package labelname

import (
	"fmt"
	"strings"

	"github.com/prometheus/common/model"

	"github.com/strata-obs/strata/internal/redact"
)

// Sanitize replaces every character that a Prometheus label name may not hold with "_"
// (app.kubernetes.io/name → app_kubernetes_io_name) and prefixes one that would start with a
// digit.
func Sanitize(k string) string {
	b := []byte(k)
	for i, ch := range b {
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '_') {
			b[i] = '_'
		}
	}
	if len(b) > 0 && b[0] >= '0' && b[0] <= '9' {
		return "_" + string(b)
	}
	return string(b)
}

// Check says why name cannot be the name of a label strata copies into series (from
// the allow-list, inventory labels, k8s labels), or nil. The classic charset is required rather
// than Prometheus 3's UTF-8 names: the series must stay usable in PromQL without quoting and in
// older Prometheus servers.
func Check(name string) error {
	if strings.HasPrefix(name, "__") {
		return fmt.Errorf("label name %s is reserved (names starting with __ are Prometheus's own)", redact.QuoteKey(name))
	}
	if !model.LegacyValidation.IsValidLabelName(name) {
		return fmt.Errorf("invalid label name %s (want letters, digits and _, not starting with a digit)", redact.QuoteKey(name))
	}
	return nil
}
