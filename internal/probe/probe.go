// Package probe tells when a server really answers, by asking it with its own client: nats.go
// connect and flush, go-redis PING, a pgx query over TCP, a mongo-driver ping with auth; and
// HTTP and TCP for anything else. Wait retries with a capped backoff and reports the last error.
package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
	"go.mongodb.org/mongo-driver/mongo/readpref"
)

// Spec says how to ask one server whether it is ready.
type Spec struct {
	Kind     string // nats, redis, postgres, mongo, http, tcp
	Addr     string // host:port, as reachable from launcher
	User     string
	Password string
	Database string
	Path     string // for http
}

// Check asks once. A nil error means ready.
func Check(ctx context.Context, s Spec) error {
	switch s.Kind {
	case "nats":
		nc, err := nats.Connect("nats://"+s.Addr, nats.Name("launcher-probe"), nats.Timeout(time.Second),
			nats.NoReconnect(), nats.RetryOnFailedConnect(false))
		if err != nil {
			return err
		}
		defer nc.Close()
		return nc.FlushTimeout(time.Second)
	case "redis":
		c := redis.NewClient(&redis.Options{Addr: s.Addr, Password: s.Password, DialTimeout: time.Second,
			ReadTimeout: time.Second, MaxRetries: -1, PoolSize: 1})
		defer c.Close()
		return c.Ping(ctx).Err()
	case "postgres":
		cfg, err := pgx.ParseConfig(PostgresURL(s))
		if err != nil {
			return err
		}
		cfg.ConnectTimeout = 2 * time.Second
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		var one int
		return conn.QueryRow(ctx, "select 1").Scan(&one)
	case "mongo":
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		c, err := mongo.Connect(cctx, options.Client().ApplyURI(MongoURL(s)).
			SetServerSelectionTimeout(2*time.Second).SetConnectTimeout(time.Second).SetMaxPoolSize(1))
		if err != nil {
			return err
		}
		defer c.Disconnect(context.Background())
		return c.Ping(cctx, readpref.Primary())
	case "http":
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(cctx, http.MethodGet, "http://"+s.Addr+s.Path, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return fmt.Errorf("GET %s: %s", s.Path, resp.Status)
		}
		return nil
	case "tcp":
		return checkTCP(ctx, s.Addr)
	}
	return fmt.Errorf("no probe for kind %q", s.Kind)
}

// checkTCP connects and then waits briefly: Docker's port proxy accepts a connection even when
// nothing listens in the container, and closes it at once. A connection that stays open (or
// that the server greets) is a listening server; one closed straight away is not.
func checkTCP(ctx context.Context, addr string) error {
	d := net.Dialer{Timeout: time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
	var b [1]byte
	_, err = c.Read(b[:])
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		return nil
	}
	return fmt.Errorf("%s accepted the connection and closed it: nothing listens behind the published port yet", addr)
}

// PostgresURL is the admin connection string for s (TCP, never a Unix socket).
func PostgresURL(s Spec) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(s.User, s.Password), Host: s.Addr, Path: "/" + s.Database, RawQuery: "sslmode=disable"}
	return u.String()
}

// MongoURL is the admin connection string for s.
func MongoURL(s Spec) string {
	u := url.URL{Scheme: "mongodb", Host: s.Addr, Path: "/"}
	q := url.Values{"directConnection": {"true"}}
	if s.User != "" {
		u.User = url.UserPassword(s.User, s.Password)
		q.Set("authSource", "admin")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Backoff is the retry schedule: First, then ×1.5 per attempt up to Max.
type Backoff struct {
	First, Max time.Duration
}

// DefaultBackoff starts fast and stays fast: a refused connection on loopback costs well under a
// millisecond, while every step of the cap is time a ready server sits unnoticed.
var DefaultBackoff = Backoff{First: 25 * time.Millisecond, Max: 100 * time.Millisecond}

// Wait calls check until it succeeds, ctx ends, or timeout passes; then the error names the
// last failure. attempt, if set, hears every failure (for live "waiting: ..." detail).
func Wait(ctx context.Context, timeout time.Duration, b Backoff, check func(context.Context) error, attempt func(error)) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	delay := b.First
	var last error
	for n := 1; ; n++ {
		err := check(ctx)
		if err == nil {
			return nil
		}
		last = err
		if attempt != nil {
			attempt(err)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("not ready after %s (%d attempts): %w", timeout, n, Tidy(last))
			}
			return ctx.Err()
		case <-t.C:
		}
		delay = min(time.Duration(float64(delay)*1.5), b.Max)
	}
}

// Tidy shortens client errors to their useful end ("connection refused"...).
func Tidy(err error) error {
	if err == nil {
		return nil
	}
	s := err.Error()
	if i := strings.LastIndex(s, "dial tcp"); i > 0 {
		s = s[i:]
	}
	if len(s) > 300 {
		s = s[:297] + "..."
	}
	return errors.New(s)
}
