package collector

import (
	"context"
	"fmt"
	"os"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// criAPI lists containers through the Kubernetes Container Runtime Interface (containerd's
// CRI plugin, CRI-O) on a unix socket: names, images and the pods they belong to.
type criAPI struct {
	path, endpoint string

	mu      sync.Mutex
	conn    *grpc.ClientConn
	runtime string
}

func newCRIAPI(path, endpoint string) *criAPI { return &criAPI{path: path, endpoint: endpoint} }

// Runtime names the runtime behind the socket (containerd, cri-o) once it answered.
func (c *criAPI) Runtime() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.runtime != "" {
		return c.runtime
	}
	return "cri"
}
func (c *criAPI) Endpoint() string { return c.endpoint }

func (c *criAPI) client() (runtimeapi.RuntimeServiceClient, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		conn, err := grpc.NewClient("unix://"+c.path, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return nil, err
		}
		c.conn = conn
	}
	return runtimeapi.NewRuntimeServiceClient(c.conn), nil
}

func (c *criAPI) List(ctx context.Context) (map[string]containerMeta, error) {
	if _, err := os.Stat(c.path); err != nil {
		return nil, errNoSocket
	}
	rs, err := c.client()
	if err != nil {
		return nil, fmt.Errorf("CRI %s: %w", c.endpoint, err)
	}
	c.mu.Lock()
	runtime := c.runtime
	c.mu.Unlock()
	if runtime == "" {
		v, err := rs.Version(ctx, &runtimeapi.VersionRequest{})
		if err != nil {
			return nil, fmt.Errorf("CRI %s: version: %w", c.endpoint, err)
		}
		runtime = v.GetRuntimeName()
		c.mu.Lock()
		c.runtime = runtime
		c.mu.Unlock()
	}
	containers, err := rs.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		return nil, fmt.Errorf("CRI %s: list containers: %w", c.endpoint, err)
	}
	sandboxes, err := rs.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return nil, fmt.Errorf("CRI %s: list pod sandboxes: %w", c.endpoint, err)
	}
	out := map[string]containerMeta{}
	for _, sb := range sandboxes.GetItems() {
		out[sb.GetId()] = containerMeta{Sandbox: true, Runtime: runtime}
	}
	for _, ct := range containers.GetContainers() {
		labels := ct.GetLabels()
		out[ct.GetId()] = containerMeta{
			Name:      ct.GetMetadata().GetName(),
			Image:     ct.GetImage().GetImage(),
			ImageID:   ct.GetImageRef(),
			Runtime:   runtime,
			Pod:       labels["io.kubernetes.pod.name"],
			Namespace: labels["io.kubernetes.pod.namespace"],
			PodUID:    labels["io.kubernetes.pod.uid"],
			Labels:    labels,
		}
	}
	return out, nil
}
