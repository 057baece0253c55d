// Command notifications keeps users' notifications in MongoDB and publishes each new one on
// notifications.created.<user>, which the gateway pushes to the user's sockets.
package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/propital/launcher/services/internal/platform"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

func main() {
	platform.Run("notifications", func(ctx context.Context, log *slog.Logger) (func(context.Context) error, error) {
		uri, err := platform.MustEnv("MONGO_URI")
		if err != nil {
			return nil, err
		}
		mc, err := mongo.Connect(ctx, options.Client().ApplyURI(uri))
		if err != nil {
			return nil, err
		}
		coll := mc.Database(platform.Env("MONGO_DB", "notifications")).Collection("notifications")
		if _, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "user_id", Value: 1}, {Key: "created_at", Value: -1}}}); err != nil {
			return nil, err
		}
		nc, err := platform.Connect(ctx, "notifications")
		if err != nil {
			return nil, err
		}
		s := &service{coll: coll, nc: nc}
		for subj, h := range map[string]platform.Handler{
			platform.SubjNotifCreate:  s.create,
			platform.SubjNotifList:    s.list,
			platform.SubjNotifUnread:  s.unread,
			platform.SubjNotifRead:    s.markRead,
			platform.SubjNotifReadAll: s.markAllRead,
		} {
			if err := platform.Handle(nc, log, "notifications", subj, h); err != nil {
				return nil, err
			}
		}
		return platform.Serve(nc, func(ctx context.Context) error { return mc.Ping(ctx, nil) }, mc.Disconnect), nil
	})
}

type service struct {
	coll *mongo.Collection
	nc   *nats.Conn
}

type doc struct {
	ID        string    `bson:"_id"`
	UserID    string    `bson:"user_id"`
	Title     string    `bson:"title"`
	Body      string    `bson:"body"`
	AssetID   string    `bson:"asset_id,omitempty"`
	EventType string    `bson:"event_type,omitempty"`
	Read      bool      `bson:"read"`
	CreatedAt time.Time `bson:"created_at"`
}

func (d doc) api() platform.Notification {
	return platform.Notification{ID: d.ID, UserID: d.UserID, Title: d.Title, Body: d.Body, AssetID: d.AssetID,
		EventType: d.EventType, Read: d.Read, CreatedAt: d.CreatedAt}
}

func (s *service) create(ctx context.Context, data []byte) (any, error) {
	var req platform.CreateNotificationRequest
	if err := platform.Decode(data, &req); err != nil {
		return nil, err
	}
	if req.UserID == "" || strings.TrimSpace(req.Title) == "" {
		return nil, platform.Errorf(platform.CodeInvalid, "userId and title are required")
	}
	d := doc{ID: platform.NewID(), UserID: req.UserID, Title: req.Title, Body: req.Body, AssetID: req.AssetID,
		EventType: req.EventType, CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
	if _, err := s.coll.InsertOne(ctx, d); err != nil {
		return nil, err
	}
	n := d.api()
	ev := nats.NewMsg(platform.SubjNotifCreated + n.UserID)
	ev.Header.Set(platform.RequestIDHeader, platform.RequestID(ctx))
	ev.Data, _ = jsonMarshal(n)
	if err := s.nc.PublishMsg(ev); err != nil {
		return nil, err
	}
	return n, nil
}

func (s *service) list(ctx context.Context, data []byte) (any, error) {
	var req platform.ListRequest
	if err := platform.Decode(data, &req); err != nil {
		return nil, err
	}
	page, limit := platform.Paging(req.Page, req.Limit)
	filter := bson.M{"user_id": req.UserID}
	total, err := s.coll.CountDocuments(ctx, filter)
	if err != nil {
		return nil, err
	}
	cur, err := s.coll.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}).
		SetSkip(int64((page-1)*limit)).SetLimit(int64(limit)))
	if err != nil {
		return nil, err
	}
	var docs []doc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, err
	}
	out := platform.Page[platform.Notification]{Data: []platform.Notification{}, Meta: platform.NewMeta(page, limit, int(total))}
	for _, d := range docs {
		out.Data = append(out.Data, d.api())
	}
	return out, nil
}

func (s *service) unread(ctx context.Context, data []byte) (any, error) {
	var req platform.UserRequest
	if err := platform.Decode(data, &req); err != nil {
		return nil, err
	}
	n, err := s.coll.CountDocuments(ctx, bson.M{"user_id": req.UserID, "read": false})
	return platform.Count{Count: int(n)}, err
}

func (s *service) markRead(ctx context.Context, data []byte) (any, error) {
	var req platform.GetRequest
	if err := platform.Decode(data, &req); err != nil {
		return nil, err
	}
	filter := bson.M{"_id": req.ID, "user_id": req.UserID}
	if _, err := s.coll.UpdateOne(ctx, filter, bson.M{"$set": bson.M{"read": true}}); err != nil {
		return nil, err
	}
	var d doc
	err := s.coll.FindOne(ctx, filter).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, platform.Errorf(platform.CodeNotFound, "notification %s not found", req.ID)
	}
	if err != nil {
		return nil, err
	}
	return d.api(), nil
}

func (s *service) markAllRead(ctx context.Context, data []byte) (any, error) {
	var req platform.UserRequest
	if err := platform.Decode(data, &req); err != nil {
		return nil, err
	}
	res, err := s.coll.UpdateMany(ctx, bson.M{"user_id": req.UserID, "read": false}, bson.M{"$set": bson.M{"read": true}})
	if err != nil {
		return nil, err
	}
	return platform.Updated{Updated: int(res.ModifiedCount)}, nil
}
