package labelname

import "testing"

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"app":                        "app",
		"app.kubernetes.io/name":     "app_kubernetes_io_name",
		"com.docker.compose.service": "com_docker_compose_service",
		"9lives":                     "_9lives",
		"team-owner":                 "team_owner",
		"ünïcode":                    "__n__code", // byte by byte: two bytes, two underscores
	} {
		if got := Sanitize(in); got != want {
			t.Errorf("Sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheck(t *testing.T) {
	for _, ok := range []string{"app", "_x", "team2", "cost_center", "A"} {
		if err := Check(ok); err != nil {
			t.Errorf("Check(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "2fa", "a-b", "a.b", "é", "__name__", "a b"} {
		if err := Check(bad); err == nil {
			t.Errorf("Check(%q): no error", bad)
		}
	}
}
