// Package nginx reads nginx's upstreams from its configuration, as a source.LoadBalancers:
// the files themselves (following includes), or the output of `nginx -T`, which inlines
// every file nginx reads.
//
// The mapping: the lb is the nginx process (Config.Name, provider "nginx", its addresses the
// listen addresses, as written, of the servers that pass requests to an upstream); a service is an
// `upstream` block of the http module (named as the block) or of the stream module (named
// "stream/" + the block's name); an instance is one of its `server` lines, named by its address
// as written, its position the line's order in the block, with the weight= parameter (1 when
// absent). A server name that resolves to several addresses is still one instance.
//
// Health is what the config says, since open-source nginx has no API that shows it: a `down`
// server is MAINT, every other UP; a `backup` server carries the label backup="true".
//
// Traffic: none, and every service and instance says so (TrafficNote). Open-source nginx's one
// counter page, stub_status, counts connections and requests of the whole nginx (accepts,
// handled, requests; active, reading, writing, waiting), with no upstream, server block or
// status in them: a share of them per upstream would be made up. Only nginx Plus's API counts
// per upstream server.
//
// The parser (Parse) follows nginx's own tokenizer closely enough that a file nginx rejects
// for its syntax fails here too, with the same file and line.
package nginx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/strata-obs/strata/internal/redact"
	"github.com/strata-obs/strata/topology/source"
)

// Config says which nginx configuration to read.
type Config struct {
	Name       string // the lb's name
	ConfigFile string // the main config file, e.g. /etc/nginx/nginx.conf
	Host       string // optional: the host nginx runs on
	// UseNginxT runs `nginx -T -c ConfigFile` and reads its output, which inlines includes:
	// the config as nginx itself reads it, also where strata may not read the files.
	UseNginxT bool
	Binary    string        // the nginx program for UseNginxT; "nginx" from PATH when empty
	Timeout   time.Duration // bounds `nginx -T`; 0 means 10 s
}

// Source is an nginx configuration.
type Source struct {
	cfg Config
}

var _ source.LoadBalancers = (*Source)(nil)

// New checks cfg and returns a Source for it. A relative ConfigFile is made absolute here,
// since `nginx -c` would resolve it against nginx's prefix instead.
func New(cfg Config) (*Source, error) {
	if cfg.Name == "" {
		return nil, errors.New("nginx source: name is empty")
	}
	if cfg.ConfigFile == "" {
		return nil, fmt.Errorf("nginx source %s: config file is empty", cfg.Name)
	}
	abs, err := filepath.Abs(cfg.ConfigFile)
	if err != nil {
		return nil, fmt.Errorf("nginx source %s: config file: %w", cfg.Name, err)
	}
	cfg.ConfigFile = abs
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("nginx source %s: negative timeout %s", cfg.Name, cfg.Timeout)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Binary == "" {
		cfg.Binary = "nginx"
	}
	return &Source{cfg: cfg}, nil
}

// Name is the source's name: the lb's.
func (s *Source) Name() string { return s.cfg.Name }

// ListLoadBalancers reads the configuration and returns the one lb.
func (s *Source) ListLoadBalancers(ctx context.Context) ([]source.LB, error) {
	var (
		dirs []Directive
		err  error
	)
	if s.cfg.UseNginxT {
		dirs, err = s.loadNginxT(ctx)
	} else {
		dirs, err = load(diskFiles{}, s.cfg.ConfigFile)
	}
	if err != nil {
		return nil, fmt.Errorf("read nginx config: %w", err)
	}
	services, addresses, err := extract(dirs)
	if err != nil {
		return nil, fmt.Errorf("read nginx upstreams: %w", err)
	}
	return []source.LB{{
		Name:      s.cfg.Name,
		Provider:  "nginx",
		Addresses: addresses,
		Host:      s.cfg.Host,
		Services:  services,
	}}, nil
}

// cappedBuffer keeps what a program writes up to max bytes, and fails the write past it, which
// ends the program (its pipe breaks): an nginx -T that prints forever costs max bytes.
type cappedBuffer struct {
	bytes.Buffer
	max  int
	over bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		b.over = true
		return 0, errors.New("output too large")
	}
	return b.Buffer.Write(p)
}

// loadNginxT runs `nginx -T` and parses the files it prints.
func (s *Source) loadNginxT(ctx context.Context) ([]Directive, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	stdout, stderr := &cappedBuffer{max: maxFileSize}, &cappedBuffer{max: 64 << 10}
	cmd := exec.CommandContext(ctx, s.cfg.Binary, "-T", "-c", s.cfg.ConfigFile)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		if stdout.over {
			return nil, fmt.Errorf("%s -T -c %s: printed more than %d bytes", s.cfg.Binary, s.cfg.ConfigFile, maxFileSize)
		}
		// nginx says what is wrong on stderr, with file and line: "nginx: [emerg] unexpected
		// "}" in /etc/nginx/nginx.conf:12"; the values it quotes from the files are left out.
		return nil, fmt.Errorf("%s -T -c %s: %w: %s", s.cfg.Binary, s.cfg.ConfigFile, err, redact.Quoted(strings.TrimSpace(stderr.String())))
	}
	main, fsys, err := parseDump(stdout.Bytes())
	if err != nil {
		return nil, fmt.Errorf("%s -T -c %s: %w", s.cfg.Binary, s.cfg.ConfigFile, err)
	}
	return load(fsys, main)
}
