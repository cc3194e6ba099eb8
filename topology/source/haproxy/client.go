package haproxy

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/strata-obs/strata/topology/source"
)

// readRuntimeAPI asks the runtime API for the servers' states, then for their addresses. Each
// command has its own connection: HAProxy answers one command and closes, unless told
// otherwise.
func (s *Source) readRuntimeAPI(ctx context.Context) ([]StatRow, []ServerState, error) {
	rows, err := runtimeCommand(ctx, s.network, s.address, "show stat", ParseStat)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", s.cfg.RuntimeAPI, err)
	}
	states, err := runtimeCommand(ctx, s.network, s.address, "show servers state", ParseServersState)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", s.cfg.RuntimeAPI, err)
	}
	return rows, states, nil
}

// runtimeCommand sends one command to the runtime API and parses the answer up to EOF.
func runtimeCommand[T any](ctx context.Context, network, address, command string, parse func(io.Reader) (T, error)) (T, error) {
	var zero T
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, address)
	if err != nil {
		return zero, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	// A peer that accepts and never answers must not hold the caller past ctx.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()

	if _, err := io.WriteString(conn, command+"\n"); err != nil {
		return zero, fmt.Errorf("send %s: %w", command, ctxErr(ctx, err))
	}
	v, err := parse(source.LimitReader(conn, source.MaxAnswerBytes))
	if err != nil {
		return zero, fmt.Errorf("read %s: %w", command, ctxErr(ctx, err))
	}
	return v, nil
}

// getStatsCSV reads the stats page as CSV.
func (s *Source) getStatsCSV(ctx context.Context) ([]StatRow, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.statsURL.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("get stats csv: %w", err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get stats csv: %w", err) // the client leaves the password out
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get stats csv %s: %s", s.statsURL.Redacted(), resp.Status)
	}
	rows, err := ParseStat(source.LimitReader(resp.Body, source.MaxAnswerBytes))
	if err != nil {
		return nil, fmt.Errorf("read stats csv %s: %w", s.statsURL.Redacted(), ctxErr(ctx, err))
	}
	return rows, nil
}

// ctxErr names the context's end as the cause when it ended: "i/o timeout" after a deadline we
// set from ctx says less than "context deadline exceeded", and callers test for the latter.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}
