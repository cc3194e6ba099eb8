package nginx

import (
	"reflect"
	"strings"
	"testing"

	"github.com/strata-obs/strata/topology/source"
)

func TestExtract(t *testing.T) {
	const conf = `
user www-data;
upstream ignored { server 10.9.9.9; }  # outside http and stream: not an upstream nginx knows
http {
    server {
        listen 80;
        listen [::]:80;
        server_name example.com;
        location / {
            if ($http_x_canary) { proxy_pass http://web/canary; }
            proxy_pass http://web;
        }
    }
    server {
        listen 8080;
        location / { proxy_pass http://$backend; }      # a variable: not followed
        location /static/ { proxy_pass http://10.0.0.1:8000; } # no upstream block
    }
    server {
        listen unix:/run/php.sock;
        location ~ \.php$ { fastcgi_pass php; }
    }
    upstream web {
        zone web 64k;
        least_conn;
        server 10.0.0.1:8080 weight=5 max_fails=3;
        server 10.0.0.2 backup;
        server backend.internal:9000 down;
        server [2001:db8::1]:8443;
        server [2001:db8::2];
        server unix:/run/web.sock;
        keepalive 16;
    }
    upstream php { server unix:/run/php-fpm.sock; }
    upstream unused { }
}
stream {
    upstream web { server 10.0.1.1:5432; server db.internal:5432 weight=2 down backup; }
    server { listen 127.0.0.1:5432; proxy_pass web; }
}
`
	dirs, err := Parse("nginx.conf", []byte(conf))
	if err != nil {
		t.Fatal(err)
	}
	services, addresses, err := extract(dirs)
	if err != nil {
		t.Fatal(err)
	}
	up := func(name, addr string, port, pos, weight int) source.Instance {
		return source.Instance{Name: name, Address: addr, Port: port, Position: pos, Health: source.HealthUp, Weight: weight,
			TrafficNote: noUpstreamCounts}
	}
	backup := up("10.0.0.2", "10.0.0.2", 80, 1, 1)
	backup.Labels = map[string]string{"backup": "true"}
	down := up("backend.internal:9000", "backend.internal", 9000, 2, 1)
	down.Health = source.HealthMaint
	streamDown := up("db.internal:5432", "db.internal", 5432, 1, 2)
	streamDown.Health, streamDown.Labels = source.HealthMaint, map[string]string{"backup": "true"}
	// Nothing counted, whatever the config: open-source nginx counts nothing per upstream.
	want := []source.Service{
		{Name: "web", TrafficNote: noUpstreamCounts, Instances: []source.Instance{
			up("10.0.0.1:8080", "10.0.0.1", 8080, 0, 5),
			backup,
			down,
			up("[2001:db8::1]:8443", "2001:db8::1", 8443, 3, 1),
			up("[2001:db8::2]", "2001:db8::2", 80, 4, 1),
			up("unix:/run/web.sock", "unix:/run/web.sock", 0, 5, 1),
		}},
		{Name: "php", TrafficNote: noUpstreamCounts, Instances: []source.Instance{up("unix:/run/php-fpm.sock", "unix:/run/php-fpm.sock", 0, 0, 1)}},
		{Name: "unused", TrafficNote: noUpstreamCounts},
		{Name: "stream/web", TrafficNote: noUpstreamCounts, Instances: []source.Instance{up("10.0.1.1:5432", "10.0.1.1", 5432, 0, 1), streamDown}},
	}
	if !reflect.DeepEqual(services, want) {
		t.Errorf("services:\n got %+v\nwant %+v", services, want)
	}
	if want := []string{"80", "[::]:80", "unix:/run/php.sock", "127.0.0.1:5432"}; !reflect.DeepEqual(addresses, want) {
		t.Errorf("addresses = %q, want %q", addresses, want)
	}
}

func TestExtractErrors(t *testing.T) {
	tests := []struct {
		conf, want string
	}{
		{"http {\n upstream a { server 10.0.0.1 weight=0; }\n}", `nginx.conf:2: invalid weight= parameter (want a whole number of at least 1)`},
		{"http {\n upstream a {\n server 10.0.0.1 weight=x; }\n}", `nginx.conf:3: invalid weight= parameter (want a whole number of at least 1)`},
		{"http { upstream a { server 10.0.0.1:http; } }", `nginx.conf:1: invalid port in upstream server (want 1-65535)`},
		{"http { upstream a { server 10.0.0.1:70000; } }", `invalid port in upstream`},
		{"http { upstream a { server; } }", `invalid number of arguments in "server" directive`},
		{"http { upstream a b { } }", `invalid number of arguments in "upstream" directive`},
		{"http {\n upstream a { }\n upstream a { }\n}", `nginx.conf:3: duplicate upstream`},
	}
	for _, tt := range tests {
		dirs, err := Parse("nginx.conf", []byte(tt.conf))
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.conf, err)
		}
		if _, _, err := extract(dirs); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("extract(%q) = %v, want …%s…", tt.conf, err, tt.want)
		}
	}
}
