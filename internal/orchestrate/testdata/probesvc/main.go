// probesvc is a tiny service for launcher's engine tests: it reaches PostgreSQL and NATS through
// the variables launcher injects and reports what it found over HTTP.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
)

func main() {
	if os.Getenv("CRASH") == "1" {
		fmt.Println("boom: crashing on purpose")
		os.Exit(1)
	}
	ctx := context.Background()
	var pg *pgx.Conn
	var err error
	for i := 0; i < 100; i++ {
		if pg, err = pgx.Connect(ctx, os.Getenv("DATABASE_URL")); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		log.Fatalf("postgres: %v", err)
	}
	nc, err := nats.Connect(os.Getenv("NATS_URL"), nats.Name(os.Getenv("SERVICE_NAME")))
	if err != nil {
		log.Fatalf("nats: %v", err)
	}
	nc.Subscribe("probe.echo", func(m *nats.Msg) { m.Respond(m.Data) })
	http.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if !nc.IsConnected() || pg.Ping(r.Context()) != nil {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
		}
	})
	http.HandleFunc("/check", func(w http.ResponseWriter, r *http.Request) {
		var user, db string
		err := pg.QueryRow(r.Context(), "select current_user, current_database()").Scan(&user, &db)
		res := map[string]any{"user": user, "database": db, "version": os.Getenv("VERSION")}
		if err != nil {
			res["pg_error"] = err.Error()
		}
		if m, err := nc.Request("probe.echo", []byte("ping"), 2*time.Second); err == nil {
			res["nats"] = string(m.Data)
		} else {
			res["nats_error"] = err.Error()
		}
		json.NewEncoder(w).Encode(res)
	})
	fmt.Println("listening on :8080")
	log.Fatal(http.ListenAndServe(":8080", nil))
}
