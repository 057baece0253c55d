package orchestrate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/propital/launcher/internal/probe"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Provision creates, idempotently, each service's database: for postgres a login role and a
// database it owns (the role's password is reset to the derived one on every run); for mongo a
// database, materialised by a marker document.
func Provision(ctx context.Context, kind string, admin probe.Spec, dbs []Database) error {
	switch kind {
	case "postgres":
		return provisionPostgres(ctx, admin, dbs)
	case "mongo":
		return provisionMongo(ctx, admin, dbs)
	}
	return nil
}

func provisionPostgres(ctx context.Context, admin probe.Spec, dbs []Database) error {
	conn, err := pgx.Connect(ctx, probe.PostgresURL(admin))
	if err != nil {
		return fmt.Errorf("connect as %s: %w", admin.User, err)
	}
	defer conn.Close(context.Background())
	for _, db := range dbs {
		role := pgx.Identifier{db.Name}.Sanitize()
		var exists bool
		if err := conn.QueryRow(ctx, "select exists(select 1 from pg_roles where rolname = $1)", db.Name).Scan(&exists); err != nil {
			return fmt.Errorf("look up role %s: %w", db.Name, err)
		}
		verb := "create"
		if exists {
			verb = "alter"
		}
		// a password cannot be a bind parameter here; derived passwords are hex, and quoting
		// doubles any ' anyway
		if _, err := conn.Exec(ctx, fmt.Sprintf("%s role %s with login password %s", verb, role, quoteLiteral(db.Password))); err != nil {
			return fmt.Errorf("%s role %s: %w", verb, db.Name, err)
		}
		if err := conn.QueryRow(ctx, "select exists(select 1 from pg_database where datname = $1)", db.Name).Scan(&exists); err != nil {
			return fmt.Errorf("look up database %s: %w", db.Name, err)
		}
		if !exists {
			_, err := conn.Exec(ctx, fmt.Sprintf("create database %s owner %s", role, role))
			var pe *pgconn.PgError
			if err != nil && !(errors.As(err, &pe) && pe.Code == "42P04") { // duplicate_database: a concurrent run made it
				return fmt.Errorf("create database %s: %w", db.Name, err)
			}
		}
	}
	return nil
}

func quoteLiteral(s string) string {
	out := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}

func provisionMongo(ctx context.Context, admin probe.Spec, dbs []Database) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := mongo.Connect(cctx, options.Client().ApplyURI(probe.MongoURL(admin)))
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer c.Disconnect(context.Background())
	for _, db := range dbs {
		_, err := c.Database(db.Name).Collection("_launcher").UpdateOne(cctx,
			bson.M{"_id": "provisioned"}, bson.M{"$set": bson.M{"by": "launcher"}}, options.Update().SetUpsert(true))
		if err != nil {
			return fmt.Errorf("create database %s: %w", db.Name, err)
		}
	}
	return nil
}
