package collector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// dockerAPI lists containers through the Docker Engine API on a unix socket, which Docker
// and podman (its compatible API service) both serve.
type dockerAPI struct {
	path, endpoint string
	client         *http.Client
	engine         atomic.Value // "docker" or "podman", from the answer's headers
}

func newDockerAPI(path, endpoint string) *dockerAPI {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		MaxIdleConns: 1,
	}
	return &dockerAPI{path: path, endpoint: endpoint, client: &http.Client{Transport: tr}}
}

// Runtime names the engine behind the socket: podman's compatible service says so in its
// answers' headers (Libpod-Api-Version).
func (d *dockerAPI) Runtime() string {
	if e, ok := d.engine.Load().(string); ok {
		return e
	}
	return "docker"
}
func (d *dockerAPI) Endpoint() string { return d.endpoint }

// dockerContainer is the part of GET /containers/json that strata uses.
type dockerContainer struct {
	ID      string            `json:"Id"`
	Names   []string          `json:"Names"`
	Image   string            `json:"Image"`
	ImageID string            `json:"ImageID"`
	Labels  map[string]string `json:"Labels"`
	Ports   []struct {
		IP          string `json:"IP"`
		PrivatePort int    `json:"PrivatePort"`
		PublicPort  int    `json:"PublicPort"`
		Type        string `json:"Type"`
	} `json:"Ports"`
	NetworkSettings struct {
		Networks map[string]struct {
			IPAddress         string `json:"IPAddress"`
			GlobalIPv6Address string `json:"GlobalIPv6Address"`
		} `json:"Networks"`
	} `json:"NetworkSettings"`
}

func (d *dockerAPI) List(ctx context.Context) (map[string]containerMeta, error) {
	if _, err := os.Stat(d.path); err != nil {
		return nil, errNoSocket
	}
	body, err := d.get(ctx, "/containers/json")
	if err != nil {
		return nil, err
	}
	metas, err := parseDockerContainers(body)
	if err != nil {
		return nil, err
	}
	// When each image was built is in the image list; the containers are known without it.
	if body, err := d.get(ctx, "/images/json"); err == nil {
		if built, err := parseDockerImages(body); err == nil {
			for id, m := range metas {
				if t, ok := built[m.ImageID]; ok {
					m.ImageCreated = t
					metas[id] = m
				}
			}
		}
	}
	return metas, nil
}

// parseDockerImages reads the answer of GET /images/json: when each image, by id, was built.
func parseDockerImages(body []byte) (map[string]time.Time, error) {
	var list []struct {
		ID      string `json:"Id"`
		Created int64  `json:"Created"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("decode image list: %w", err)
	}
	out := make(map[string]time.Time, len(list))
	for _, img := range list {
		if img.Created > 0 {
			out[img.ID] = time.Unix(img.Created, 0).UTC()
		}
	}
	return out, nil
}

func (d *dockerAPI) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/v1.41"+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("docker API %s: %w", d.endpoint, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("docker API %s: %w", d.endpoint, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("docker API %s%s: %s: %s", d.endpoint, path, resp.Status, truncate(string(body), 200))
	}
	// GET /version would say too, but podman takes seconds to answer it.
	if resp.Header.Get("Libpod-Api-Version") != "" || strings.HasPrefix(resp.Header.Get("Server"), "Libpod") {
		d.engine.Store("podman")
	} else {
		d.engine.Store("docker")
	}
	return body, nil
}

// parseDockerContainers reads the answer of GET /containers/json.
func parseDockerContainers(body []byte) (map[string]containerMeta, error) {
	var list []dockerContainer
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("decode container list: %w", err)
	}
	out := make(map[string]containerMeta, len(list))
	for _, c := range list {
		if c.ID == "" {
			return nil, errors.New("container list holds a container without Id")
		}
		m := containerMeta{
			Image: c.Image, ImageID: c.ImageID, Labels: c.Labels,
			Pod:       c.Labels["io.kubernetes.pod.name"],
			Namespace: c.Labels["io.kubernetes.pod.namespace"],
			PodUID:    c.Labels["io.kubernetes.pod.uid"],
			Sandbox:   c.Labels["io.kubernetes.docker.type"] == "podsandbox",
		}
		if len(c.Names) > 0 {
			m.Name = strings.TrimPrefix(c.Names[0], "/")
		}
		for _, n := range c.NetworkSettings.Networks {
			for _, a := range []string{n.IPAddress, n.GlobalIPv6Address} {
				if a != "" {
					m.Addresses = append(m.Addresses, a)
				}
			}
		}
		for _, p := range c.Ports {
			if p.PublicPort == 0 {
				continue
			}
			m.Ports = append(m.Ports, containerPort{Protocol: p.Type, HostIP: p.IP, HostPort: p.PublicPort, ContainerPort: p.PrivatePort})
		}
		out[c.ID] = m
	}
	return out, nil
}
