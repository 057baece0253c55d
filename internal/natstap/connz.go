package natstap

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"
)

// connIndex knows which connection subscribes to what, from the monitoring endpoint's connz.
type connIndex struct {
	url    string
	client *http.Client

	mu    sync.Mutex
	subs  []connSub
	cache map[string]string // subject key → connection name; cleared on refresh
	err   error
}

type connSub struct {
	name, subject, queue string
}

func newConnIndex(monitor string) *connIndex {
	return &connIndex{url: strings.TrimRight(monitor, "/") + "/connz?subs=detail&limit=4096",
		client: &http.Client{Timeout: 2 * time.Second}, cache: map[string]string{}}
}

func (c *connIndex) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		c.refresh(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *connIndex) refresh(ctx context.Context) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	resp, err := c.client.Do(req)
	if err != nil {
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		return
	}
	defer resp.Body.Close()
	var body struct {
		Connections []struct {
			Name string `json:"name"`
			Subs []struct {
				Subject string `json:"subject"`
				Queue   string `json:"qgroup"`
			} `json:"subscriptions_list_detail"`
		} `json:"connections"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		return
	}
	var subs []connSub
	for _, conn := range body.Connections {
		if conn.Name == "launcher-tail" || conn.Name == "" {
			continue
		}
		for _, s := range conn.Subs {
			if s.Subject == ">" { // a catch-all (another tap) says nothing about who serves what
				continue
			}
			subs = append(subs, connSub{name: conn.Name, subject: s.Subject, queue: s.Queue})
		}
	}
	c.mu.Lock()
	c.subs, c.cache, c.err = subs, map[string]string{}, nil
	c.mu.Unlock()
}

// cacheKey folds a muxed reply inbox (_INBOX.<id>.<token>) to its prefix: one lookup per client.
func cacheKey(subject string) string {
	if strings.HasPrefix(subject, "_INBOX.") && strings.Count(subject, ".") >= 2 {
		return subject[:strings.LastIndexByte(subject, '.')+1]
	}
	return subject
}

// subscriber names a connection subscribed to subject, preferring queue subscribers (services).
func (c *connIndex) subscriber(subject string) string {
	if subject == "" {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	key := cacheKey(subject)
	if n, ok := c.cache[key]; ok {
		return n
	}
	name := ""
	for _, s := range c.subs {
		if MatchSubject(s.subject, subject) {
			name = s.name
			if s.queue != "" {
				break
			}
		}
	}
	if len(c.cache) < 100000 {
		c.cache[key] = name
	}
	return name
}
