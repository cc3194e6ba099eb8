package promql

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"

	"github.com/strata-obs/strata/internal/httpapi"
)

// Proxy forwards the same endpoints as API to an external Prometheus, for a strata configured
// with prometheus.url: the series are there, not in strata's TSDB.
type Proxy struct {
	proxy *httputil.ReverseProxy
}

// NewProxy returns a Proxy to the Prometheus at rawURL (http://host:9090, or with a path
// prefix for a Prometheus behind --web.route-prefix).
func NewProxy(rawURL string) (*Proxy, error) {
	target, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("prometheus URL: does not parse") // url.Error would quote it, password and all
	}
	if (target.Scheme != "http" && target.Scheme != "https") || target.Host == "" {
		return nil, fmt.Errorf("prometheus URL %q: want http(s)://host[:port][/prefix]", target.Redacted())
	}
	// A user and password in the URL go as basic auth, as Prometheus's clients send them.
	user := target.User
	bare := *target
	bare.User = nil
	target = &bare
	return &Proxy{proxy: &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.SetXForwarded()
			if user != nil {
				password, _ := user.Password()
				r.Out.SetBasicAuth(user.Username(), password)
			}
		},
		// A client such as Grafana shows the error of Prometheus's envelope, where the
		// default handler would answer with an empty body.
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			httpapi.Write(w, http.StatusBadGateway, httpapi.Response{Status: "error", ErrorType: string(httpapi.Unavailable),
				Error: fmt.Sprintf("prometheus at %s: %v", target.Redacted(), err)}, nil)
		},
	}}, nil
}

// Register adds the proxied endpoints to mux.
func (p *Proxy) Register(mux *http.ServeMux) {
	register(mux, p.proxy, p.proxy, p.proxy, p.proxy, p.proxy, p.proxy, p.proxy)
	mux.Handle("GET /api/v1/status/buildinfo", p.proxy)
	mux.Handle("GET /api/v1/targets", p.proxy)
	mux.Handle("GET /api/v1/metadata", p.proxy)
	mux.Handle("GET /api/v1/rules", p.proxy)
	mux.Handle("GET /api/v1/alerts", p.proxy)
}
