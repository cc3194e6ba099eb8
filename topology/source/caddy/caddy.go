// Package caddy reads Caddy's reverse proxies through its admin API (GET /config/,
// /reverse_proxy/upstreams and /metrics) as a source.LoadBalancers.
//
// The mapping: the lb is the Caddy process (Config.Name, provider "caddy", its addresses the
// http servers' listen addresses); a service is one reverse_proxy handler; an instance is one
// of its upstreams, named by its dial address, its position the upstream's order in the
// handler. Handlers with dynamic upstreams (SRV or A lookups per request) are services with
// no instances and a dynamic_upstreams label.
//
// Service names come from the routes above the handler, walking subroutes: the host and
// path of the nearest matchers that have them ("example.com/api" for host example.com and
// path /api/*), the server name and the path when no host matches ("srv0/api"), else the
// route's place ("srv0/route0.1": route 1 of the subroute in route 0). Servers are walked in
// name order and routes in config order; a name met again gets "#2", "#3", ….
//
// Health: Caddy 2.6's /reverse_proxy/upstreams shows only requests in flight and failure
// counts, and the failures count only with passive health checks; active health checks show up
// as the caddy_reverse_proxy_upstreams_healthy gauge of /metrics, refreshed every 10 s. An
// upstream with failures or a 0 gauge is DOWN, one missing from Caddy's pool UNKNOWN, the rest UP.
//
// Traffic: Caddy counts none per upstream, so instances have none and say so (TrafficNote).
// A service has the counts of /metrics where they are its own (see countedBy): Caddy 2.6 to 2.8
// count requests only on servers with metrics on (`servers { metrics }`), only of the servers'
// top-level handlers, labelled by server and handler module name (caddy_http_requests_total,
// caddy_http_request_errors_total, caddy_http_requests_in_flight, and
// caddy_http_response_duration_seconds by code). A reverse_proxy alone under its label (the
// one top-level reverse_proxy of its server, or the one in the first route of the server's one
// top-level subroute, as a Caddyfile's single site makes it) gets them; any other gets none,
// and the reason.
package caddy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/strata-obs/strata/topology/source"
)

// Config says which Caddy to read.
type Config struct {
	Name     string        // the lb's name
	AdminURL string        // Caddy's admin endpoint, e.g. http://127.0.0.1:2019
	Host     string        // optional: the host Caddy runs on
	Timeout  time.Duration // bounds one ListLoadBalancers; 0 means 5 s
}

// Source is a Caddy instance read through its admin API.
type Source struct {
	cfg    Config
	admin  *url.URL
	client *http.Client
}

var _ source.LoadBalancers = (*Source)(nil)

const (
	defaultTimeout = 5 * time.Second
	// maxBody bounds what is read from the admin API: large configs are a few MB.
	maxBody = 64 << 20
)

// New checks cfg and returns a Source for it.
func New(cfg Config) (*Source, error) {
	if cfg.Name == "" {
		return nil, errors.New("caddy source: name is empty")
	}
	if cfg.AdminURL == "" {
		return nil, fmt.Errorf("caddy source %s: admin_url is empty", cfg.Name)
	}
	if !strings.Contains(cfg.AdminURL, "://") {
		return nil, fmt.Errorf("caddy source %s: admin_url %q is not an http(s) URL: write http://%[2]s", cfg.Name, cfg.AdminURL)
	}
	admin, err := url.Parse(cfg.AdminURL)
	if err != nil {
		return nil, fmt.Errorf("caddy source %s: admin_url: %w", cfg.Name, err)
	}
	if (admin.Scheme != "http" && admin.Scheme != "https") || admin.Host == "" {
		return nil, fmt.Errorf("caddy source %s: admin_url %q is not an http(s) URL with a host", cfg.Name, cfg.AdminURL)
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("caddy source %s: negative timeout %s", cfg.Name, cfg.Timeout)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = defaultTimeout
	}
	return &Source{cfg: cfg, admin: admin, client: &http.Client{}}, nil
}

// Name is the source's name: the lb's.
func (s *Source) Name() string { return s.cfg.Name }

// ListLoadBalancers reads the config and the upstreams' health and returns the one lb.
func (s *Source) ListLoadBalancers(ctx context.Context) ([]source.LB, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()

	body, err := s.get(ctx, "/config/")
	if err != nil {
		return nil, fmt.Errorf("read caddy config: %w", err)
	}
	listen, proxies, err := parseConfig(body)
	if err != nil {
		return nil, err
	}
	body, err = s.get(ctx, "/reverse_proxy/upstreams")
	if err != nil {
		return nil, fmt.Errorf("read caddy upstreams: %w", err)
	}
	status, err := parseUpstreams(body)
	if err != nil {
		return nil, err
	}
	// The metrics refine health (active checks) and hold the request counts: without them,
	// passive health still counts, and the services say why they have no counts. A Caddy
	// without the metrics endpoint is no error; a spent deadline is.
	metrics := caddyMetrics{unread: "caddy's /metrics did not answer"}
	if body, err := s.get(ctx, "/metrics"); err == nil {
		metrics = parseMetrics(body)
	} else if ctx.Err() != nil {
		return nil, fmt.Errorf("read caddy metrics: %w", err)
	}
	return []source.LB{{
		Name:      s.cfg.Name,
		Provider:  "caddy",
		Addresses: listen,
		Host:      s.cfg.Host,
		Services:  services(proxies, status, metrics),
	}}, nil
}

// get fetches one admin API path and returns the body of a 200 answer.
func (s *Source) get(ctx context.Context, path string) ([]byte, error) {
	u := *s.admin
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: read body: %w", u.String(), err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %q", u.String(), resp.Status, snippet(body))
	}
	if len(body) > maxBody {
		return nil, fmt.Errorf("GET %s: body larger than %d bytes", u.String(), maxBody)
	}
	return body, nil
}
