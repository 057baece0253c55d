package main

import (
	"context"
	"embed"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrate applies the embedded migrations that the database has not seen, in version order, each
// in its own transaction, under an advisory lock so that replicas starting together apply each
// once. Re-running applies nothing. Returns how many it applied.
func migrate(ctx context.Context, db *pgxpool.Pool) (int, error) {
	conn, err := db.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "select pg_advisory_lock(727274)"); err != nil {
		return 0, err
	}
	defer conn.Exec(context.WithoutCancel(ctx), "select pg_advisory_unlock(727274)")
	if _, err := conn.Exec(ctx, `create table if not exists schema_migrations (
		version integer primary key, name text not null, applied_at timestamptz not null default now())`); err != nil {
		return 0, err
	}
	entries, err := migrations.ReadDir("migrations")
	if err != nil {
		return 0, err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	applied := 0
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil {
			return applied, fmt.Errorf("migration %s: name must start with a number and _", e.Name())
		}
		var done bool
		if err := conn.QueryRow(ctx, "select exists(select 1 from schema_migrations where version = $1)", version).Scan(&done); err != nil {
			return applied, err
		}
		if done {
			continue
		}
		sql, err := migrations.ReadFile("migrations/" + e.Name())
		if err != nil {
			return applied, err
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			return applied, err
		}
		if _, err := tx.Exec(ctx, string(sql)); err != nil {
			tx.Rollback(ctx)
			return applied, fmt.Errorf("migration %s: %w", e.Name(), err)
		}
		if _, err := tx.Exec(ctx, "insert into schema_migrations (version, name) values ($1, $2)", version, e.Name()); err != nil {
			tx.Rollback(ctx)
			return applied, err
		}
		if err := tx.Commit(ctx); err != nil {
			return applied, err
		}
		applied++
	}
	return applied, nil
}
