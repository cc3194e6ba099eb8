package store

import (
	config_util "github.com/prometheus/common/config"
	promconfig "github.com/prometheus/prometheus/config"

	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/storage/remote"
	"github.com/strata-obs/strata/internal/redact"
)

// MergedHistory reads a past graph from the embedded TSDB and from the external store together:
// the store holds the topology's history from before this strata's disk (it scrapes strata or
// receives its remote write). The store failing is a warning, the local history still answers.
func MergedHistory(local, remote storage.Queryable) storage.Queryable {
	return storage.QueryableFunc(func(mint, maxt int64) (storage.Querier, error) {
		l, err := local.Querier(mint, maxt)
		if err != nil {
			return nil, err
		}
		r, err := remote.Querier(mint, maxt)
		if err != nil {
			return l, nil
		}
		return storage.NewMergeQuerier([]storage.Querier{l}, []storage.Querier{r}, storage.ChainedSeriesMerge), nil
	})
}

// RemoteReader reads series from an external Prometheus through its remote read API.
func RemoteReader(raw string) (storage.Queryable, error) {
	u, err := url.Parse(strings.TrimSuffix(raw, "/") + "/api/v1/read")
	if err != nil {
		return nil, fmt.Errorf("prometheus.url %s: does not parse", redact.URL(raw)) // url.Error would quote it whole
	}
	bare, auth := WithoutUserinfo(u)
	httpConfig := config_util.DefaultHTTPClientConfig
	httpConfig.BasicAuth = auth
	client, err := remote.NewReadClient("prometheus", &remote.ClientConfig{
		URL: bare, Timeout: model.Duration(30 * time.Second),
		HTTPClientConfig: httpConfig,
		// Prometheus's own limit of a streamed frame; left at zero, every answer is refused.
		ChunkedReadLimit: promconfig.DefaultChunkedReadLimit,
	})
	if err != nil {
		return nil, fmt.Errorf("prometheus.url: %w", err)
	}
	return remote.NewSampleAndChunkQueryableClient(client, labels.EmptyLabels(), nil, true, func() (int64, error) { return 0, nil }), nil
}

// WithoutUserinfo moves a URL's user and password into basic auth, where Prometheus's client
// keeps the password a config.Secret: left in the URL, the remote write queue logs it in clear
// with every line ("url=http://user:password@…").
func WithoutUserinfo(u *url.URL) (*config_util.URL, *config_util.BasicAuth) {
	if u.User == nil {
		return &config_util.URL{URL: u}, nil
	}
	password, _ := u.User.Password()
	auth := &config_util.BasicAuth{Username: u.User.Username(), Password: config_util.Secret(password)}
	bare := *u
	bare.User = nil
	return &config_util.URL{URL: &bare}, auth
}
