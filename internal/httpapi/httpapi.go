// Package httpapi is the envelope of Prometheus's HTTP API, which every JSON answer of strata
// uses (the topology API, the PromQL API, the server's refusals): {"status":"success","data":…,
// "warnings":[…]} or {"status":"error","errorType":"bad_data","error":"…"}, with the HTTP status
// Prometheus gives each errorType; and the reading of a time parameter that both APIs share.
package httpapi

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"
)

// Response is the envelope of every answer.
type Response struct {
	Status    string   `json:"status"`
	Data      any      `json:"data,omitempty"`
	ErrorType string   `json:"errorType,omitempty"`
	Error     string   `json:"error,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
	Infos     []string `json:"infos,omitempty"`
}

// ErrorType is Prometheus's errorType, which decides the HTTP status.
type ErrorType string

// The errorTypes of Prometheus's API, and strata's own.
const (
	BadData     ErrorType = "bad_data"
	Execution   ErrorType = "execution"
	Timeout     ErrorType = "timeout"
	Canceled    ErrorType = "canceled"
	Internal    ErrorType = "internal"
	Unavailable ErrorType = "unavailable" // an external Prometheus that cannot be reached
	NotFound    ErrorType = "not_found"
	Forbidden   ErrorType = "forbidden"
	// Unauthorized is a request without valid credentials, where auth is on.
	Unauthorized ErrorType = "unauthorized"
)

// StatusClientClosed is nginx's "client closed request", which Prometheus answers to a query
// whose client went away.
const StatusClientClosed = 499

// Status is the HTTP status Prometheus answers an error of type t with.
func (t ErrorType) Status() int {
	switch t {
	case BadData:
		return http.StatusBadRequest
	case Execution:
		return http.StatusUnprocessableEntity
	case Timeout:
		return http.StatusServiceUnavailable
	case Canceled:
		return StatusClientClosed
	case Unavailable:
		return http.StatusBadGateway
	case NotFound:
		return http.StatusNotFound
	case Forbidden:
		return http.StatusForbidden
	case Unauthorized:
		return http.StatusUnauthorized
	default:
		return http.StatusInternalServerError
	}
}

// Write answers resp with status, as one JSON document. logger, when set, hears of a client
// that went away mid-answer.
func Write(w http.ResponseWriter, status int, resp Response, logger *slog.Logger) {
	b, err := json.Marshal(resp)
	if err != nil {
		http.Error(w, fmt.Sprintf("encode response: %v", err), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if _, err := w.Write(b); err != nil && logger != nil {
		logger.Debug("write response", "err", err)
	}
}

// Success answers data with its warnings.
func Success(w http.ResponseWriter, data any, warnings []string) {
	Write(w, http.StatusOK, Response{Status: "success", Data: data, Warnings: warnings}, nil)
}

// Error answers an error of type t with t's status.
func Error(w http.ResponseWriter, t ErrorType, msg string) {
	Write(w, t.Status(), Response{Status: "error", ErrorType: string(t), Error: msg}, nil)
}

// ParseTime reads a time as Prometheus's API writes it: unix seconds with an optional fraction
// (to the millisecond), or RFC 3339. ok is false when s is neither; a number that no time
// holds (NaN, ±Inf, past what an int64 of milliseconds holds) is an error. Each API bounds the
// result as its contract says.
func ParseTime(s string) (t time.Time, ok bool, err error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.Abs(f) > math.MaxInt64/1000 {
			return time.Time{}, true, fmt.Errorf("time %q out of range", s)
		}
		sec, frac := math.Modf(f)
		frac = math.Round(frac*1000) / 1000
		return time.Unix(int64(sec), int64(frac*float64(time.Second))).UTC(), true, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, true, nil
	}
	return time.Time{}, false, nil
}
