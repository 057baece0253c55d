package main

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/propital/launcher/internal/testenv"
	"github.com/propital/launcher/services/internal/platform"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

func TestNotificationsAgainstMongo(t *testing.T) {
	in := testenv.StartInfra(t, "mongo")
	ctx := context.Background()
	mc, err := mongo.Connect(ctx, options.Client().ApplyURI(in.MongoURI))
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Disconnect(ctx)
	nc, err := nats.Connect(testenv.NATS(t))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	s := &service{coll: mc.Database("notif_test").Collection("notifications"), nc: nc}
	log := platform.Logger("notifications-test")
	for subj, h := range map[string]platform.Handler{platform.SubjNotifCreate: s.create, platform.SubjNotifList: s.list,
		platform.SubjNotifUnread: s.unread, platform.SubjNotifRead: s.markRead, platform.SubjNotifReadAll: s.markAllRead} {
		platform.Handle(nc, log, "notifications", subj, h)
	}
	created, _ := nc.SubscribeSync(platform.SubjNotifCreated + "u1")
	var first platform.Notification
	for i, title := range []string{"one", "two", "three"} {
		var n platform.Notification
		if err := platform.Request(ctx, nc, platform.SubjNotifCreate, platform.CreateNotificationRequest{UserID: "u1", Title: title}, &n); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = n
		}
		m, err := created.NextMsg(2 * time.Second)
		if err != nil {
			t.Fatalf("no created event for %s: %v", title, err)
		}
		var pub platform.Notification
		json.Unmarshal(m.Data, &pub)
		if pub.ID != n.ID {
			t.Errorf("published %s, created %s", pub.ID, n.ID)
		}
	}
	platform.Request(ctx, nc, platform.SubjNotifCreate, platform.CreateNotificationRequest{UserID: "u2", Title: "other"}, nil)
	var pe *platform.Error
	if err := platform.Request(ctx, nc, platform.SubjNotifCreate, platform.CreateNotificationRequest{UserID: "u1"}, nil); !errors.As(err, &pe) || pe.Code != platform.CodeInvalid {
		t.Errorf("no title: %v", err)
	}
	var page platform.Page[platform.Notification]
	platform.Request(ctx, nc, platform.SubjNotifList, platform.ListRequest{UserID: "u1", Page: 1, Limit: 2}, &page)
	if len(page.Data) != 2 || page.Data[0].Title != "three" || page.Meta.Total != 3 || page.Meta.TotalPages != 2 {
		t.Errorf("page 1 = %+v", page)
	}
	// u2 cannot read u1's notification
	if err := platform.Request(ctx, nc, platform.SubjNotifRead, platform.GetRequest{UserID: "u2", ID: first.ID}, nil); !errors.As(err, &pe) || pe.Code != platform.CodeNotFound {
		t.Errorf("cross-user read: %v", err)
	}
	var c platform.Count
	platform.Request(ctx, nc, platform.SubjNotifUnread, platform.UserRequest{UserID: "u1"}, &c)
	if c.Count != 3 {
		t.Errorf("unread %d", c.Count)
	}
	var u platform.Updated
	platform.Request(ctx, nc, platform.SubjNotifReadAll, platform.UserRequest{UserID: "u1"}, &u)
	platform.Request(ctx, nc, platform.SubjNotifUnread, platform.UserRequest{UserID: "u2"}, &c)
	if u.Updated != 3 || c.Count != 1 {
		t.Errorf("read-all updated %d; u2 unread %d", u.Updated, c.Count)
	}
}
