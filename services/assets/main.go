// Command assets owns owners, assets and their events in PostgreSQL. Each event asks the
// notifications service to notify the asset's owner.
package main

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/propital/launcher/services/internal/platform"
)

func main() {
	platform.Run("assets", func(ctx context.Context, log *slog.Logger) (func(context.Context) error, error) {
		url, err := platform.MustEnv("DATABASE_URL")
		if err != nil {
			return nil, err
		}
		pool, err := pgxpool.New(ctx, url)
		if err != nil {
			return nil, err
		}
		applied, err := migrate(ctx, pool)
		if err != nil {
			return nil, err
		}
		log.Info("migrations", "applied", applied)
		nc, err := platform.Connect(ctx, "assets")
		if err != nil {
			return nil, err
		}
		s := &service{db: pool, nc: nc, log: log}
		if err := s.register(); err != nil {
			return nil, err
		}
		return platform.Serve(nc, pool.Ping, func(context.Context) error { pool.Close(); return nil }), nil
	})
}
