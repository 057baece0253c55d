// Command auth owns the platform's users: MongoDB (unique email), bcrypt passwords, HS256 JWTs.
package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/propital/launcher/services/internal/platform"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

func main() {
	platform.Run("auth", func(ctx context.Context, log *slog.Logger) (func(context.Context) error, error) {
		uri, err := platform.MustEnv("MONGO_URI")
		if err != nil {
			return nil, err
		}
		secret, err := platform.MustEnv("JWT_SECRET")
		if err != nil {
			return nil, err
		}
		mc, err := mongo.Connect(ctx, options.Client().ApplyURI(uri))
		if err != nil {
			return nil, err
		}
		svc, err := newService(ctx, mc.Database(platform.Env("MONGO_DB", "auth")), []byte(secret), 24*time.Hour)
		if err != nil {
			return nil, err
		}
		nc, err := platform.Connect(ctx, "auth")
		if err != nil {
			return nil, err
		}
		svc.nc = nc
		if err := svc.register(log); err != nil {
			return nil, err
		}
		return platform.Serve(nc, func(ctx context.Context) error { return mc.Ping(ctx, nil) }, mc.Disconnect), nil
	})
}
