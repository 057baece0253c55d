package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/propital/launcher/internal/testenv"
	"github.com/propital/launcher/services/internal/platform"
)

// TestAssetsAgainstPostgres: migrations apply once and re-run as no-ops; creating an asset
// records a Created event and asks notifications to tell the owner; bad input and other owners'
// assets write nothing.
func TestAssetsAgainstPostgres(t *testing.T) {
	in := testenv.StartInfra(t, "postgres")
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, in.PostgresURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if n, err := migrate(ctx, pool); err != nil || n != 1 {
		t.Fatalf("first migrate: %d, %v", n, err)
	}
	if n, err := migrate(ctx, pool); err != nil || n != 0 {
		t.Fatalf("re-run migrate: %d, %v", n, err)
	}
	nc, err := nats.Connect(testenv.NATS(t))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	log := platform.Logger("assets-test")
	notified := make(chan platform.CreateNotificationRequest, 16)
	platform.Handle(nc, log, "notifications", platform.SubjNotifCreate, func(ctx context.Context, data []byte) (any, error) {
		var r platform.CreateNotificationRequest
		platform.Decode(data, &r)
		notified <- r
		return r, nil
	})
	s := &service{db: pool, nc: nc, log: log}
	if err := s.register(); err != nil {
		t.Fatal(err)
	}
	for _, o := range []platform.Owner{{ID: "u1", Email: "a@x.io", Name: "A"}, {ID: "u2", Email: "b@x.io", Name: "B"}} {
		if err := platform.Request(ctx, nc, platform.SubjOwnerCreate, o, nil); err != nil {
			t.Fatal(err)
		}
	}
	v := 99.5
	var a platform.Asset
	if err := platform.Request(ctx, nc, platform.SubjAssetCreate, platform.CreateAssetRequest{OwnerID: "u1",
		Asset: platform.AssetInput{Type: "Land", Status: "ForSale", Address: "Lot 7", Value: &v}}, &a); err != nil {
		t.Fatal(err)
	}
	if len(a.Events) != 1 || a.Events[0].Type != "Created" || a.Value != 99.5 {
		t.Errorf("asset %+v", a)
	}
	select {
	case r := <-notified:
		if r.UserID != "u1" || r.EventType != "Created" || r.AssetID != a.ID {
			t.Errorf("notification request %+v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("notifications was not asked")
	}

	count := func() (n int) {
		pool.QueryRow(ctx, "select (select count(*) from assets) + (select count(*) from asset_events)").Scan(&n)
		return n
	}
	before := count()
	neg := -1.0
	for name, req := range map[string]any{
		"bad type":   platform.CreateAssetRequest{OwnerID: "u1", Asset: platform.AssetInput{Type: "Castle", Status: "ForSale", Address: "x", Value: &v}},
		"negative":   platform.CreateAssetRequest{OwnerID: "u1", Asset: platform.AssetInput{Type: "Land", Status: "ForSale", Address: "x", Value: &neg}},
		"no owner":   platform.CreateAssetRequest{OwnerID: "ghost", Asset: platform.AssetInput{Type: "Land", Status: "ForSale", Address: "x", Value: &v}},
		"bad event":  platform.CreateEventRequest{OwnerID: "u1", AssetID: a.ID, Type: "Exploded"},
		"not theirs": platform.CreateEventRequest{OwnerID: "u2", AssetID: a.ID, Type: "Sold"},
	} {
		subj := platform.SubjAssetCreate
		if _, ok := req.(platform.CreateEventRequest); ok {
			subj = platform.SubjEventCreate
		}
		var pe *platform.Error
		if err := platform.Request(ctx, nc, subj, req, nil); !errors.As(err, &pe) || (pe.Code != platform.CodeInvalid && pe.Code != platform.CodeNotFound) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if after := count(); after != before {
		t.Errorf("bad requests wrote %d rows", after-before)
	}

	for i := 0; i < 3; i++ {
		platform.Request(ctx, nc, platform.SubjAssetCreate, platform.CreateAssetRequest{OwnerID: "u1",
			Asset: platform.AssetInput{Type: "House", Status: "Rented", Address: "Row " + string(rune('A'+i)), Value: &v}}, nil)
	}
	var page platform.Page[platform.Asset]
	if err := platform.Request(ctx, nc, platform.SubjAssetList, platform.ListRequest{UserID: "u1", Page: 2, Limit: 3}, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Data) != 1 || page.Meta.Total != 4 || page.Meta.TotalPages != 2 || page.Data[0].ID != a.ID {
		t.Errorf("page 2 = %+v", page)
	}
	var theirs platform.Page[platform.Asset]
	platform.Request(ctx, nc, platform.SubjAssetList, platform.ListRequest{UserID: "u2"}, &theirs)
	if theirs.Meta.Total != 0 {
		t.Errorf("u2 sees %d assets", theirs.Meta.Total)
	}
}
