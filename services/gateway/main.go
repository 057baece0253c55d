// Command gateway is the platform's public HTTP API and WebSocket. It owns no data: every call
// becomes a NATS request to a service. WebSocket sessions are kept in Redis so that, with several
// replicas, a notification reaches a user's socket whichever replica holds it.
package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/propital/launcher/services/internal/platform"
	"github.com/redis/go-redis/v9"
)

func main() {
	platform.Run("gateway", func(ctx context.Context, log *slog.Logger) (func(context.Context) error, error) {
		redisURL, err := platform.MustEnv("REDIS_URL")
		if err != nil {
			return nil, err
		}
		ropts, err := redis.ParseURL(redisURL)
		if err != nil {
			return nil, err
		}
		rdb := redis.NewClient(ropts)
		nc, err := platform.Connect(ctx, "gateway")
		if err != nil {
			return nil, err
		}
		host, _ := os.Hostname()
		g := newGateway(nc, rdb, log, platform.Env("INSTANCE_ID", host))
		if err := g.subscribe(); err != nil {
			return nil, err
		}
		srv := &http.Server{Addr: ":" + platform.Env("PORT", "3000"), Handler: g.routes(), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
				log.Error("http", "err", err)
			}
		}()
		hbCtx, stopHB := context.WithCancel(context.Background())
		go g.heartbeat(hbCtx, 15*time.Second)
		return func(ctx context.Context) error {
			stopHB()
			err := srv.Shutdown(ctx) // finishes in-flight requests
			g.closeSockets(ctx)
			nc.Drain()
			rdb.Close()
			return err
		}, nil
	})
}
