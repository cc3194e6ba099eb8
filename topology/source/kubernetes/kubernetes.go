// Package kubernetes is the Kubernetes source: Nodes (host facts), Pods (pods and their
// containers), Services with their EndpointSlices (services and instances), and Services of
// type LoadBalancer and Ingresses (LBs in front of Services), watched through client-go
// informers. The informers' caches are the source's view: a refresh reads them and asks the
// API nothing but whether it is still there, and every change that matters wakes the refresh
// loop (source.Watcher).
//
// It reads with get, list and watch on nodes, pods, services, endpointslices
// (discovery.k8s.io) and ingresses (networking.k8s.io), and nothing else: the ClusterRole in
// deploy/kubernetes grants exactly that.
package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/strata-obs/strata/topology/source"
)

// Config configures the source.
type Config struct {
	Name string // the source's name, and the name of the cluster's LB
	// Kubeconfig is a kubeconfig file; empty uses the pod's service account (in-cluster).
	Kubeconfig string
}

// Source watches one cluster.
type Source struct {
	name    string
	client  kubernetes.Interface
	factory informers.SharedInformerFactory
	kinds   []*watched

	mu      sync.Mutex
	started bool
	stopped context.Context // Watch's: once it ends, the caches are fed no more
	changed chan struct{}
	apiErr  error // the last probe of the API server's /readyz
}

// probeEvery is how often the source asks the API server whether it is there. The caches
// outlive it, and a watch that cannot reconnect retries quietly inside client-go: without
// the probe, a graph built from a cache nobody feeds any more would look fresh.
const probeEvery = 5 * time.Second

// watched is one kind of object the source watches, with what its informer last said.
type watched struct {
	resource string // as RBAC names it: pods, endpointslices.discovery.k8s.io, …
	informer cache.SharedIndexInformer
	// same tells two versions of an object apart only by what the source reads of them:
	// a kubelet's heartbeat in a Node's status is no change to the graph.
	same func(a, b any) bool

	mu        sync.Mutex
	lastErr   error     // the last failed list or watch
	errAt     time.Time // when
	lastEvent time.Time // the last add, update or delete: the watch worked then
}

// errorMemory is how long a failed list counts against a kind that has listed before, unless
// an event shows its watch working again; the reflector retries at least this often (its
// backoff tops at 30 s, up to twice that with its jitter), so a failure that lasts stays
// counted. A kind that never listed keeps its last error until it does.
const errorMemory = 90 * time.Second

// New builds the client and the informers; nothing is asked of the API until Watch.
func New(cfg Config) (*Source, error) {
	var rc *rest.Config
	var err error
	if cfg.Kubeconfig == "" {
		rc, err = rest.InClusterConfig()
		if errors.Is(err, rest.ErrNotInCluster) {
			return nil, errors.New("no kubeconfig is set and strata does not run in a pod (KUBERNETES_SERVICE_HOST is unset): set kubeconfig")
		}
	} else {
		rc, err = clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
	}
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	rc.UserAgent = "strata"
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTransform(slim))
	s := &Source{name: cfg.Name, client: client, factory: factory}
	s.kinds = []*watched{
		{resource: "nodes", informer: factory.Core().V1().Nodes().Informer(), same: sameAs(nodeHost)},
		{resource: "pods", informer: factory.Core().V1().Pods().Informer(), same: sameAs(podFactsOf)},
		{resource: "services", informer: factory.Core().V1().Services().Informer(), same: sameVersion},
		{resource: "endpointslices.discovery.k8s.io", informer: factory.Discovery().V1().EndpointSlices().Informer(), same: sameVersion},
		{resource: "ingresses.networking.k8s.io", informer: factory.Networking().V1().Ingresses().Informer(), same: sameVersion},
	}
	for _, w := range s.kinds {
		// A failed list wakes the refresh loop too: the graph turns stale now, not at the
		// next interval. (A watch that cannot reconnect retries inside the reflector and
		// comes here only when it gives up: the probe is what notices the API server gone.)
		failed := func(ctx context.Context, r *cache.Reflector, err error) {
			cache.DefaultWatchErrorHandler(ctx, r, err) // client-go's own log of it
			w.failed(err)
			s.signal()
		}
		if err := w.informer.SetWatchErrorHandlerWithContext(failed); err != nil {
			return nil, fmt.Errorf("watch %s: %w", w.resource, err)
		}
	}
	return s, nil
}

// Name is the source's name.
func (s *Source) Name() string { return s.name }

// Watch starts the informers; they run until ctx ends. The channel receives (at most one
// pending signal) whenever an object changed in a way the graph shows.
func (s *Source) Watch(ctx context.Context) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return s.changed
	}
	s.started, s.stopped, s.changed = true, ctx, make(chan struct{}, 1)
	for _, w := range s.kinds {
		// It fails only on an informer that has stopped, and these have not started.
		_, _ = w.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(any) { w.event(); s.signal() },
			UpdateFunc: func(a, b any) { w.event(); s.signalUnless(w.same(a, b)) },
			DeleteFunc: func(any) { w.event(); s.signal() },
		})
	}
	s.factory.Start(ctx.Done())
	go func() { <-ctx.Done(); s.factory.Shutdown() }()
	go s.probe(ctx)
	return s.changed
}

// probe asks the API server's /readyz every probeEvery and wakes the refresh loop when the
// answer turns, so that the graph goes stale when the API server goes away, and fresh when
// it is back.
func (s *Source) probe(ctx context.Context) {
	t := time.NewTicker(probeEvery)
	defer t.Stop()
	for {
		c, cancel := context.WithTimeout(ctx, probeEvery*3/5)
		err := reachable(s.client.Discovery().RESTClient().Get().AbsPath("/readyz").Do(c).Error())
		cancel()
		if ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		turned := (err == nil) != (s.apiErr == nil)
		s.apiErr = err
		s.mu.Unlock()
		if turned {
			s.signal()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Source) signal() {
	if s.changed == nil {
		return // not watching yet
	}
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

func (s *Source) signalUnless(same bool) {
	if !same {
		s.signal()
	}
}

func (w *watched) failed(err error) {
	w.mu.Lock()
	w.lastErr, w.errAt = err, time.Now()
	w.mu.Unlock()
}

func (w *watched) event() {
	w.mu.Lock()
	w.lastEvent = time.Now()
	w.mu.Unlock()
}

// trouble is the failure that counts against this kind now, if any.
func (w *watched) trouble(now time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.lastErr == nil || w.lastEvent.After(w.errAt) {
		return nil
	}
	if w.informer.HasSynced() && now.Sub(w.errAt) > errorMemory {
		return nil
	}
	return w.lastErr
}

// ready waits, as long as ctx allows, until every informer has listed once, and says whether
// the API server answers now. A kind that cannot be listed (a permission missing) fails at
// once with the API's own words; the informers' caches are kept, and the refresh loop keeps
// the last report, marked stale, while the API server is away.
func (s *Source) ready(ctx context.Context) error {
	s.mu.Lock()
	started, stopped := s.started, s.stopped
	s.mu.Unlock()
	if !started {
		return errors.New("the kubernetes source is not watching yet")
	}
	if stopped.Err() != nil {
		return errors.New("the kubernetes source stopped watching")
	}
	for {
		var waiting []string
		var errs []error
		now := time.Now()
		for _, w := range s.kinds {
			err := w.trouble(now)
			if !w.informer.HasSynced() {
				if err != nil {
					errs = append(errs, fmt.Errorf("list %s: %w", w.resource, err))
				} else {
					waiting = append(waiting, w.resource)
				}
			} else if err != nil {
				errs = append(errs, fmt.Errorf("watch %s: %w", w.resource, err))
			}
		}
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
		if len(waiting) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the first list of %v: %w", waiting, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	s.mu.Lock()
	err := s.apiErr
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("kubernetes API server: %w", err)
	}
	return nil
}

// reachable keeps only the errors that say the API server is away: no answer, or a 5xx. A
// proxy in front of it, or RBAC without system:public-info-viewer, may refuse /readyz (403,
// 404) while lists and watches work.
func reachable(err error) error {
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Code < 500 {
		return nil
	}
	return err
}

// everything lists a whole cache: with the empty selector the listers cannot fail
// (cache.ListAll errs only on an object without metadata, when it has labels to match).
var everything = labels.Everything()

// ListLoadBalancers is the cluster's LB with every Service, and the LBs in front of them.
func (s *Source) ListLoadBalancers(ctx context.Context) ([]source.LB, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	f := s.factory
	var o Objects
	o.Pods, _ = f.Core().V1().Pods().Lister().List(everything) // for StatefulSet ordinals
	o.Services, _ = f.Core().V1().Services().Lister().List(everything)
	o.Slices, _ = f.Discovery().V1().EndpointSlices().Lister().List(everything)
	o.Ingresses, _ = f.Networking().V1().Ingresses().Lister().List(everything)
	return loadBalancers(s.name, o), nil
}

// ListFacts is the Nodes as hosts and the Pods with their containers.
func (s *Source) ListFacts(ctx context.Context, _ time.Time) (*source.FactSet, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	var o Objects
	o.Nodes, _ = s.factory.Core().V1().Nodes().Lister().List(everything)
	o.Pods, _ = s.factory.Core().V1().Pods().Lister().List(everything)
	return facts(o), nil
}

// slim drops what the source never reads from every cached object: managed fields and
// annotations (kubectl's last-applied-configuration alone can double a Service).
func slim(obj any) (any, error) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetManagedFields(nil)
		m.SetAnnotations(nil)
	}
	return obj, nil
}

// podFactsOf is what the source makes of a pod, as one value.
func podFactsOf(p *corev1.Pod) any {
	pod, containers := podFacts(p)
	return [2]any{pod, containers}
}

// sameVersion: the object did not change (a relist hands back every object).
func sameVersion(a, b any) bool {
	ma, err1 := meta.Accessor(a)
	mb, err2 := meta.Accessor(b)
	return err1 == nil && err2 == nil && ma.GetResourceVersion() == mb.GetResourceVersion()
}

// sameAs compares two versions of an object by what the source makes of them.
func sameAs[T any, V any](convert func(T) V) func(a, b any) bool {
	return func(a, b any) bool {
		x, ok1 := a.(T)
		y, ok2 := b.(T)
		return ok1 && ok2 && reflect.DeepEqual(convert(x), convert(y))
	}
}
