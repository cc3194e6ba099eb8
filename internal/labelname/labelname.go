// Package labelname turns metadata keys (container labels, Kubernetes labels, LB tags) into
// Prometheus label names, the one way both binaries do it.
package labelname

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
