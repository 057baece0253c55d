package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/propital/launcher/services/internal/platform"
	"github.com/redis/go-redis/v9"
)

type gateway struct {
	nc       *nats.Conn
	rdb      *redis.Client
	log      *slog.Logger
	instance string
	tokens   *tokenCache
	sockets  *sockets
}

func newGateway(nc *nats.Conn, rdb *redis.Client, log *slog.Logger, instance string) *gateway {
	return &gateway{nc: nc, rdb: rdb, log: log.With("instance", instance), instance: instance,
		tokens: newTokenCache(30*time.Second, 10000), sockets: newSockets()}
}

// routes is the public API.
func (g *gateway) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", g.ready)
	mux.HandleFunc("POST /auth/register", g.register)
	mux.HandleFunc("POST /auth/login", g.login)
	mux.HandleFunc("GET /auth/me", g.authed(g.me))
	mux.HandleFunc("POST /assets", g.authed(g.createAsset))
	mux.HandleFunc("GET /assets", g.authed(g.listAssets))
	mux.HandleFunc("GET /assets/{id}", g.authed(g.getAsset))
	mux.HandleFunc("POST /assets/{id}/events", g.authed(g.createEvent))
	mux.HandleFunc("GET /notifications", g.authed(g.listNotifications))
	mux.HandleFunc("GET /notifications/unread-count", g.authed(g.unreadCount))
	mux.HandleFunc("POST /notifications/{id}/read", g.authed(g.markRead))
	mux.HandleFunc("POST /notifications/read-all", g.authed(g.markAllRead))
	mux.HandleFunc("GET /ws", g.websocket)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, platform.Errorf(platform.CodeNotFound, "no route %s %s", r.Method, r.URL.Path))
	})
	return g.withRequestID(mux)
}

// withRequestID gives every request an id (kept from X-Request-Id when the caller sends one),
// echoes it, carries it into NATS headers, and logs one line per request.
func (g *gateway) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(platform.RequestIDHeader)
		if id == "" || len(id) > 64 {
			id = platform.NewID()
		}
		w.Header().Set(platform.RequestIDHeader, id)
		ctx := platform.WithRequestID(r.Context(), id)
		sw := &statusWriter{ResponseWriter: w, status: 200}
		start := time.Now()
		next.ServeHTTP(sw, r.WithContext(ctx))
		if r.URL.Path != "/healthz" && r.URL.Path != "/readyz" {
			platform.Log(ctx, g.log).Info("http", "method", r.Method, "path", r.URL.Path, "status", sw.status, "ms", time.Since(start).Milliseconds())
		}
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }

// Unwrap lets the WebSocket upgrade reach the connection.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (g *gateway) ready(w http.ResponseWriter, r *http.Request) {
	if err := platform.NATSReady(g.nc); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	if err := g.rdb.Ping(r.Context()).Err(); err != nil {
		http.Error(w, "redis: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ready\n"))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	var pe *platform.Error
	if !errors.As(err, &pe) {
		pe = &platform.Error{Code: platform.CodeInternal, Message: "internal error"}
	}
	writeJSON(w, platform.HTTPStatus(pe.Code), map[string]any{"error": pe})
}

// decodeBody reads a JSON object strictly: bad JSON, unknown fields and wrong types are 400s.
func decodeBody(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20+1))
	if err != nil {
		return platform.Errorf(platform.CodeInvalid, "could not read the body")
	}
	if len(body) > 1<<20 {
		return platform.Errorf(platform.CodeInvalid, "body is larger than 1 MiB")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			return platform.Errorf(platform.CodeInvalid, "field %s must be %s, not %s", te.Field, jsonType(te.Type.Kind()), te.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return platform.Errorf(platform.CodeInvalid, "%s", strings.TrimPrefix(err.Error(), "json: "))
		case errors.Is(err, io.EOF):
			return platform.Errorf(platform.CodeInvalid, "a JSON body is required")
		}
		return platform.Errorf(platform.CodeInvalid, "malformed JSON: %v", err)
	}
	if dec.More() {
		return platform.Errorf(platform.CodeInvalid, "malformed JSON: more than one value")
	}
	return nil
}

func jsonType(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Float32, reflect.Float64, reflect.Int, reflect.Int64, reflect.Int32:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}

func required(fields map[string]string) error {
	var missing []string
	for name, v := range fields {
		if strings.TrimSpace(v) == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return platform.Errorf(platform.CodeInvalid, "missing required field(s): %s", strings.Join(missing, ", "))
	}
	return nil
}

func (g *gateway) register(w http.ResponseWriter, r *http.Request) {
	var req platform.RegisterRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, err)
		return
	}
	if err := required(map[string]string{"email": req.Email, "name": req.Name, "password": req.Password}); err != nil {
		writeError(w, err)
		return
	}
	var res platform.AuthResult
	if err := platform.Request(r.Context(), g.nc, platform.SubjAuthRegister, req, &res); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, res)
}

func (g *gateway) login(w http.ResponseWriter, r *http.Request) {
	var req platform.LoginRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, err)
		return
	}
	if err := required(map[string]string{"email": req.Email, "password": req.Password}); err != nil {
		writeError(w, err)
		return
	}
	var res platform.AuthResult
	if err := platform.Request(r.Context(), g.nc, platform.SubjAuthLogin, req, &res); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

type authedHandler func(w http.ResponseWriter, r *http.Request, u platform.User)

// authed verifies the bearer token through the auth service (cached briefly).
func (g *gateway) authed(h authedHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || tok == "" {
			writeError(w, platform.Errorf(platform.CodeUnauthorized, "a bearer token is required"))
			return
		}
		u, err := g.verify(r.Context(), tok)
		if err != nil {
			writeError(w, err)
			return
		}
		h(w, r, u)
	}
}

func (g *gateway) verify(ctx context.Context, tok string) (platform.User, error) {
	if u, ok := g.tokens.get(tok); ok {
		return u, nil
	}
	var u platform.User
	if err := platform.Request(ctx, g.nc, platform.SubjAuthVerify, platform.VerifyRequest{Token: tok}, &u); err != nil {
		return u, err
	}
	g.tokens.put(tok, u)
	return u, nil
}

func (g *gateway) me(w http.ResponseWriter, r *http.Request, u platform.User) {
	writeJSON(w, http.StatusOK, u)
}

func (g *gateway) createAsset(w http.ResponseWriter, r *http.Request, u platform.User) {
	var in platform.AssetInput
	if err := decodeBody(r, &in); err != nil {
		writeError(w, err)
		return
	}
	if err := required(map[string]string{"type": in.Type, "status": in.Status, "address": in.Address}); err != nil {
		writeError(w, err)
		return
	}
	if in.Value == nil {
		writeError(w, platform.Errorf(platform.CodeInvalid, "missing required field(s): value"))
		return
	}
	g.call(w, r, http.StatusCreated, platform.SubjAssetCreate, platform.CreateAssetRequest{OwnerID: u.ID, Asset: in}, &platform.Asset{})
}

func paging(r *http.Request) (int, int, error) {
	get := func(name string, def int) (int, error) {
		v := r.URL.Query().Get(name)
		if v == "" {
			return def, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, platform.Errorf(platform.CodeInvalid, "%s must be a whole number from 1", name)
		}
		return n, nil
	}
	page, err := get("page", 1)
	if err != nil {
		return 0, 0, err
	}
	limit, err := get("limit", 20)
	if err == nil && limit > 100 {
		err = platform.Errorf(platform.CodeInvalid, "limit is at most 100")
	}
	return page, limit, err
}

func (g *gateway) listAssets(w http.ResponseWriter, r *http.Request, u platform.User) {
	page, limit, err := paging(r)
	if err != nil {
		writeError(w, err)
		return
	}
	g.call(w, r, http.StatusOK, platform.SubjAssetList, platform.ListRequest{UserID: u.ID, Page: page, Limit: limit}, &platform.Page[platform.Asset]{})
}

func (g *gateway) getAsset(w http.ResponseWriter, r *http.Request, u platform.User) {
	id := r.PathValue("id")
	if !isUUID(id) {
		writeError(w, platform.Errorf(platform.CodeNotFound, "asset %s not found", id))
		return
	}
	g.call(w, r, http.StatusOK, platform.SubjAssetGet, platform.GetRequest{UserID: u.ID, ID: id}, &platform.Asset{})
}

func (g *gateway) createEvent(w http.ResponseWriter, r *http.Request, u platform.User) {
	id := r.PathValue("id")
	var body struct {
		Type        string  `json:"type"`
		Description *string `json:"description,omitempty"`
	}
	if err := decodeBody(r, &body); err != nil {
		writeError(w, err)
		return
	}
	if err := required(map[string]string{"type": body.Type}); err != nil {
		writeError(w, err)
		return
	}
	if !isUUID(id) {
		writeError(w, platform.Errorf(platform.CodeNotFound, "asset %s not found", id))
		return
	}
	g.call(w, r, http.StatusCreated, platform.SubjEventCreate,
		platform.CreateEventRequest{OwnerID: u.ID, AssetID: id, Type: body.Type, Description: body.Description}, &platform.AssetEvent{})
}

func (g *gateway) listNotifications(w http.ResponseWriter, r *http.Request, u platform.User) {
	page, limit, err := paging(r)
	if err != nil {
		writeError(w, err)
		return
	}
	g.call(w, r, http.StatusOK, platform.SubjNotifList, platform.ListRequest{UserID: u.ID, Page: page, Limit: limit}, &platform.Page[platform.Notification]{})
}

func (g *gateway) unreadCount(w http.ResponseWriter, r *http.Request, u platform.User) {
	g.call(w, r, http.StatusOK, platform.SubjNotifUnread, platform.UserRequest{UserID: u.ID}, &platform.Count{})
}

func (g *gateway) markRead(w http.ResponseWriter, r *http.Request, u platform.User) {
	g.call(w, r, http.StatusOK, platform.SubjNotifRead, platform.GetRequest{UserID: u.ID, ID: r.PathValue("id")}, &platform.Notification{})
}

func (g *gateway) markAllRead(w http.ResponseWriter, r *http.Request, u platform.User) {
	g.call(w, r, http.StatusOK, platform.SubjNotifReadAll, platform.UserRequest{UserID: u.ID}, &platform.Updated{})
}

// call makes one NATS request and writes its answer or its error.
func (g *gateway) call(w http.ResponseWriter, r *http.Request, status int, subject string, req, resp any) {
	if err := platform.Request(r.Context(), g.nc, subject, req, resp); err != nil {
		var pe *platform.Error
		if !errors.As(err, &pe) {
			platform.Log(r.Context(), g.log).Error("request", "subject", subject, "err", err)
		}
		writeError(w, err)
		return
	}
	writeJSON(w, status, resp)
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'):
		default:
			return false
		}
	}
	return true
}

// tokenCache remembers verified tokens briefly, so that most requests skip the auth round trip.
type tokenCache struct {
	mu  sync.Mutex
	ttl time.Duration
	max int
	m   map[string]cached
}

type cached struct {
	u   platform.User
	exp time.Time
}

func newTokenCache(ttl time.Duration, max int) *tokenCache {
	return &tokenCache{ttl: ttl, max: max, m: map[string]cached{}}
}

func (c *tokenCache) get(tok string) (platform.User, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[tok]
	if !ok || time.Now().After(e.exp) {
		delete(c.m, tok)
		return platform.User{}, false
	}
	return e.u, true
}

func (c *tokenCache) put(tok string, u platform.User) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max { // full: drop the expired, then anything
		now := time.Now()
		for k, e := range c.m {
			if now.After(e.exp) || len(c.m) >= c.max {
				delete(c.m, k)
			}
		}
	}
	c.m[tok] = cached{u: u, exp: time.Now().Add(c.ttl)}
}
