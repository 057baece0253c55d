// Package platform is what every service of the platform shares: configuration from the
// variables launcher injects, JSON logs carrying the request id, a NATS connection named after
// the service, one request/reply envelope with structured errors, health endpoints, and a
// graceful shutdown on SIGTERM.
package platform

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

// Env returns a variable or its default.
func Env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// MustEnv returns a variable or an error naming it.
func MustEnv(key string) (string, error) {
	if v := os.Getenv(key); v != "" {
		return v, nil
	}
	return "", fmt.Errorf("%s is not set (launcher injects it for services that `uses` the infra)", key)
}

// RequestIDHeader carries a request's id from HTTP through NATS into every log line.
const RequestIDHeader = "X-Request-Id"

type ctxKey struct{}

// WithRequestID stores id in ctx.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// RequestID returns ctx's request id, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// NewID returns a random 16-byte hex id.
func NewID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Logger logs JSON lines to stdout with the service's name.
func Logger(service string) *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelInfo})).With("service", service)
}

// Log returns the logger with ctx's request id attached.
func Log(ctx context.Context, l *slog.Logger) *slog.Logger {
	if id := RequestID(ctx); id != "" {
		return l.With("request_id", id)
	}
	return l
}

// Error is the one error shape of the platform: in NATS replies and in HTTP answers.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Error codes and the HTTP statuses the gateway maps them to.
const (
	CodeInvalid      = "invalid"
	CodeUnauthorized = "unauthorized"
	CodeNotFound     = "not_found"
	CodeConflict     = "conflict"
	CodeInternal     = "internal"
	CodeUnavailable  = "unavailable"
)

// HTTPStatus maps an error code to its status.
func HTTPStatus(code string) int {
	switch code {
	case CodeInvalid:
		return http.StatusBadRequest
	case CodeUnauthorized:
		return http.StatusUnauthorized
	case CodeNotFound:
		return http.StatusNotFound
	case CodeConflict:
		return http.StatusConflict
	case CodeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// Errorf makes an *Error.
func Errorf(code, format string, a ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, a...)}
}

// Reply is the envelope of every NATS reply: data or error.
type Reply struct {
	Data  json.RawMessage `json:"data,omitempty"`
	Error *Error          `json:"error,omitempty"`
}

// Connect opens a NATS connection named after the service, retrying while the server starts.
func Connect(ctx context.Context, name string) (*nats.Conn, error) {
	url, err := MustEnv("NATS_URL")
	if err != nil {
		return nil, err
	}
	return nats.Connect(url, nats.Name(name), nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond))
}

// Handler answers one request. Returning an *Error sends it as is; any other error is logged
// and sent as "internal", without its text.
type Handler func(ctx context.Context, data []byte) (any, error)

// MaxInFlight bounds how many requests one subscription serves at once.
const MaxInFlight = 64

// Handle subscribes a handler in the service's queue group, so replicas share the load. A
// subscription delivers messages one at a time; each request is served in its own goroutine
// (at most MaxInFlight at once), so one slow request (a bcrypt hash) does not queue the rest.
func Handle(nc *nats.Conn, log *slog.Logger, service, subject string, h Handler) error {
	sem := make(chan struct{}, MaxInFlight)
	_, err := nc.QueueSubscribe(subject, service, func(m *nats.Msg) {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			serve(m, log, subject, h)
		}()
	})
	return err
}

func serve(m *nats.Msg, log *slog.Logger, subject string, h Handler) {
	{
		ctx := context.Background()
		id := m.Header.Get(RequestIDHeader)
		if id == "" {
			id = NewID()
		}
		ctx = WithRequestID(ctx, id)
		start := time.Now()
		res, err := h(ctx, m.Data)
		var reply Reply
		var pe *Error
		switch {
		case errors.As(err, &pe):
			reply.Error = pe
		case err != nil:
			Log(ctx, log).Error("request failed", "subject", subject, "err", err)
			reply.Error = &Error{Code: CodeInternal, Message: "internal error"}
		default:
			reply.Data, err = json.Marshal(res)
			if err != nil {
				reply.Error = &Error{Code: CodeInternal, Message: "internal error"}
			}
		}
		b, _ := json.Marshal(reply)
		out := nats.NewMsg(m.Reply)
		out.Header.Set(RequestIDHeader, id)
		out.Data = b
		m.RespondMsg(out)
		code := "ok"
		if reply.Error != nil {
			code = reply.Error.Code
		}
		Log(ctx, log).Info("handled", "subject", subject, "result", code, "ms", time.Since(start).Milliseconds())
	}
}

// Request sends req to subject and decodes the reply's data into resp; an error reply comes back
// as *Error. The request id of ctx travels in the headers.
func Request(ctx context.Context, nc *nats.Conn, subject string, req, resp any) error {
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	m := nats.NewMsg(subject)
	m.Data = b
	if id := RequestID(ctx); id != "" {
		m.Header.Set(RequestIDHeader, id)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
	}
	r, err := nc.RequestMsgWithContext(ctx, m)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return Errorf(CodeUnavailable, "%s has no responders", subject)
		}
		return Errorf(CodeUnavailable, "%s: %v", subject, err)
	}
	var reply Reply
	if err := json.Unmarshal(r.Data, &reply); err != nil {
		return fmt.Errorf("%s: bad reply: %w", subject, err)
	}
	if reply.Error != nil {
		return reply.Error
	}
	if resp != nil && len(reply.Data) > 0 {
		return json.Unmarshal(reply.Data, resp)
	}
	return nil
}

// Decode reads a request body strictly into v.
func Decode(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return Errorf(CodeInvalid, "bad request: %v", err)
	}
	return nil
}

// Run runs a service until SIGTERM or SIGINT, then gives it 10 s to finish: serve starts the
// work and returns a stop function that drains.
func Run(service string, serve func(ctx context.Context, log *slog.Logger) (stop func(context.Context) error, err error)) {
	log := Logger(service)
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer cancel()
	stop, err := serve(ctx, log)
	if err != nil {
		log.Error("start failed", "err", err)
		os.Exit(1)
	}
	log.Info("started")
	<-ctx.Done()
	log.Info("shutting down")
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if err := stop(sctx); err != nil {
		log.Error("shutdown", "err", err)
		os.Exit(1)
	}
	log.Info("stopped")
}

// HealthServer serves /healthz (alive) and /readyz (ready() == nil) on addr, plus extra routes.
func HealthServer(addr string, ready func(context.Context) error, mux *http.ServeMux) *http.Server {
	if mux == nil {
		mux = http.NewServeMux()
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := ready(r.Context()); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	return &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
}

// NATSReady is a readiness check for a NATS connection.
func NATSReady(nc *nats.Conn) error {
	if !nc.IsConnected() {
		return errors.New("nats not connected")
	}
	return nil
}

// Serve starts the health endpoints on $PORT (default 8080): ready when NATS is connected and
// ping (the service's store) answers. The returned stop drains NATS, stops the endpoints, then
// closes the store: the order a graceful shutdown needs.
func Serve(nc *nats.Conn, ping func(context.Context) error, closeStore func(context.Context) error) func(context.Context) error {
	hs := HealthServer(":"+Env("PORT", "8080"), func(ctx context.Context) error {
		if err := NATSReady(nc); err != nil {
			return err
		}
		return ping(ctx)
	}, nil)
	go hs.ListenAndServe()
	return func(ctx context.Context) error {
		nc.Drain()
		hs.Shutdown(ctx)
		return closeStore(ctx)
	}
}
