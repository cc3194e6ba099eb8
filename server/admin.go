package server

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"

	"github.com/strata-obs/strata/internal/httpapi"
)

// admin serves POST /api/v1/admin/tsdb/snapshot where --web.enable-admin-api allows it, as
// Prometheus's admin API does: a copy of the embedded TSDB under --storage.path/snapshots/,
// answered by its name; skip_head=true leaves out what is only in memory yet. Without the flag,
// Prometheus's answer: admin APIs disabled.
func (a *App) admin(mux *http.ServeMux) {
	for _, method := range []string{"POST", "PUT"} {
		mux.HandleFunc(method+" /api/v1/admin/tsdb/snapshot", a.snapshot)
	}
}

func (a *App) snapshot(w http.ResponseWriter, r *http.Request) {
	if !a.opts.EnableAdminAPI {
		// Prometheus's status for it, 503 (strata's "unavailable" is otherwise a store's 502).
		httpapi.Write(w, http.StatusServiceUnavailable, httpapi.Response{Status: "error", ErrorType: string(httpapi.Unavailable),
			Error: "admin APIs disabled (--web.enable-admin-api)"}, a.logger)
		return
	}
	skipHead := false
	if s := r.FormValue("skip_head"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			httpapi.Error(w, httpapi.BadData, "skip_head: want true or false, got "+strconv.Quote(s))
			return
		}
		skipHead = b
	}
	var random [8]byte
	rand.Read(random[:])
	name := time.Now().UTC().Format("20060102T150405Z0700") + "-" + hex.EncodeToString(random[:])
	dir, err := a.db.Snapshot(name, !skipHead)
	if err != nil {
		a.logger.Error("TSDB snapshot failed", "err", err)
		httpapi.Error(w, httpapi.Internal, err.Error())
		return
	}
	a.logger.Info("TSDB snapshot written", "dir", dir, "head", !skipHead)
	httpapi.Success(w, map[string]string{"name": name}, nil)
}
