package main

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go"
	"github.com/propital/launcher/services/internal/platform"
)

// Sessions in Redis: the hash ws:user:<id> maps each of the user's connection ids to the gateway
// instance that holds it. Its TTL is refreshed by every instance's heartbeat, so the entries of
// an instance that died expire on their own.
const sessionTTL = 45 * time.Second

func sessionKey(user string) string { return "ws:user:" + user }

type wsConn struct {
	id   string
	user string
	send chan []byte
	c    *websocket.Conn
}

// sockets are this instance's connections, by user.
type sockets struct {
	mu     sync.Mutex
	byUser map[string]map[string]*wsConn
}

func newSockets() *sockets { return &sockets{byUser: map[string]map[string]*wsConn{}} }

func (s *sockets) add(c *wsConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byUser[c.user] == nil {
		s.byUser[c.user] = map[string]*wsConn{}
	}
	s.byUser[c.user][c.id] = c
}

func (s *sockets) remove(c *wsConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byUser[c.user], c.id)
	if len(s.byUser[c.user]) == 0 {
		delete(s.byUser, c.user)
	}
}

func (s *sockets) of(user string) []*wsConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*wsConn
	for _, c := range s.byUser[user] {
		out = append(out, c)
	}
	return out
}

func (s *sockets) all() []*wsConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*wsConn
	for _, m := range s.byUser {
		for _, c := range m {
			out = append(out, c)
		}
	}
	return out
}

// websocket upgrades GET /ws?token=... and keeps the connection until the client leaves.
func (g *gateway) websocket(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("token")
	if tok == "" {
		writeError(w, platform.Errorf(platform.CodeUnauthorized, "a token query parameter is required"))
		return
	}
	u, err := g.verify(r.Context(), tok)
	if err != nil {
		writeError(w, err)
		return
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	conn := &wsConn{id: platform.NewID(), user: u.ID, send: make(chan []byte, 32), c: c}
	ctx := context.WithoutCancel(r.Context())
	if err := g.rdb.HSet(ctx, sessionKey(u.ID), conn.id, g.instance).Err(); err != nil {
		c.Close(websocket.StatusInternalError, "session store unavailable")
		return
	}
	g.rdb.Expire(ctx, sessionKey(u.ID), sessionTTL)
	g.sockets.add(conn)
	platform.Log(ctx, g.log).Info("ws connected", "user", u.ID, "conn", conn.id)
	defer func() {
		g.sockets.remove(conn)
		g.rdb.HDel(context.Background(), sessionKey(u.ID), conn.id)
		platform.Log(ctx, g.log).Info("ws closed", "user", u.ID, "conn", conn.id)
	}()

	readCtx := c.CloseRead(ctx) // ends when the client closes
	ping := time.NewTicker(20 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-readCtx.Done():
			return
		case msg := <-conn.send:
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := c.Write(wctx, websocket.MessageText, msg)
			cancel()
			if err != nil {
				return
			}
		case <-ping.C:
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := c.Ping(pctx)
			cancel()
			if err != nil {
				return
			}
		}
	}
}

// subscribe routes notifications: one replica (queue group) takes each created notification,
// looks up in Redis which instances hold the user's sockets, and forwards it to each of them.
func (g *gateway) subscribe() error {
	if _, err := g.nc.QueueSubscribe(platform.NotifCreatedAll, "gateway", g.route); err != nil {
		return err
	}
	_, err := g.nc.Subscribe(platform.SubjGatewayPush+g.instance, g.deliver)
	return err
}

func (g *gateway) route(m *nats.Msg) {
	var n platform.Notification
	if err := json.Unmarshal(m.Data, &n); err != nil {
		return
	}
	ctx := platform.WithRequestID(context.Background(), m.Header.Get(platform.RequestIDHeader))
	holders, err := g.rdb.HGetAll(ctx, sessionKey(n.UserID)).Result()
	if err != nil {
		platform.Log(ctx, g.log).Warn("ws sessions", "err", err)
		return
	}
	instances := map[string]bool{}
	for _, inst := range holders {
		instances[inst] = true
	}
	b, _ := json.Marshal(platform.Push{UserID: n.UserID, Notification: n})
	for inst := range instances {
		out := nats.NewMsg(platform.SubjGatewayPush + inst)
		out.Header.Set(platform.RequestIDHeader, platform.RequestID(ctx))
		out.Data = b
		g.nc.PublishMsg(out)
	}
	platform.Log(ctx, g.log).Info("notification routed", "user", n.UserID, "instances", len(instances))
}

func (g *gateway) deliver(m *nats.Msg) {
	var p platform.Push
	if err := json.Unmarshal(m.Data, &p); err != nil {
		return
	}
	msg, _ := json.Marshal(map[string]any{"type": "notification", "notification": p.Notification})
	for _, c := range g.sockets.of(p.UserID) {
		select {
		case c.send <- msg:
		default: // a client that does not read loses messages rather than stalling the gateway
			g.log.Warn("ws send queue full; dropped", "conn", c.id)
		}
	}
}

// heartbeat refreshes this instance's sessions in Redis until ctx ends.
func (g *gateway) heartbeat(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, c := range g.sockets.all() {
				g.rdb.HSet(ctx, sessionKey(c.user), c.id, g.instance)
				g.rdb.Expire(ctx, sessionKey(c.user), sessionTTL)
			}
		}
	}
}

func (g *gateway) closeSockets(ctx context.Context) {
	for _, c := range g.sockets.all() {
		c.c.Close(websocket.StatusGoingAway, "gateway shutting down")
		g.rdb.HDel(ctx, sessionKey(c.user), c.id)
	}
}
