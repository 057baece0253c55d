// Command loadgen drives the gateway at a fixed concurrency, one route at a time, and prints
// requests/s and p50/p99 latency per route. Only for addresses on this machine.
//
//	go run ./bench/loadgen -url http://127.0.0.1:3000 -c 16 -d 10s
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	base := flag.String("url", "http://127.0.0.1:3000", "gateway URL (loopback only)")
	conc := flag.Int("c", 16, "concurrent clients")
	dur := flag.Duration("d", 10*time.Second, "duration per route")
	flag.Parse()
	if u, err := url.Parse(*base); err != nil || (u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost" && u.Hostname() != "::1") {
		fmt.Fprintln(os.Stderr, "loadgen: -url must be a loopback address")
		os.Exit(2)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conc * 2}, Timeout: 10 * time.Second}
	call := func(method, path, token, body string) (int, []byte, error) {
		req, _ := http.NewRequest(method, *base+path, bytes.NewBufferString(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b, nil
	}
	// one user per client
	stamp := time.Now().UnixNano()
	tokens := make([]string, *conc)
	emails := make([]string, *conc)
	for i := range tokens {
		emails[i] = fmt.Sprintf("load-%d-%d@example.com", stamp, i)
		code, b, err := call("POST", "/auth/register", "", fmt.Sprintf(`{"email":%q,"name":"Load","password":"load-password"}`, emails[i]))
		if err != nil || code != 201 {
			fmt.Fprintf(os.Stderr, "loadgen: register: %d %v %s\n", code, err, b)
			os.Exit(1)
		}
		var r struct{ Token string }
		json.Unmarshal(b, &r)
		tokens[i] = r.Token
	}
	routes := []struct {
		name      string
		method    string
		path      string
		body      func(i int) string
		authed    bool
		wantCodes int
	}{
		{"POST /auth/login", "POST", "/auth/login", func(i int) string {
			return fmt.Sprintf(`{"email":%q,"password":"load-password"}`, emails[i])
		}, false, 200},
		{"POST /assets", "POST", "/assets", func(int) string {
			return `{"type":"Apartment","status":"Rented","address":"Load St 1","value":123456.78,"rentalIncome":900}`
		}, true, 201},
		{"GET /assets", "GET", "/assets?page=1&limit=20", func(int) string { return "" }, true, 200},
	}
	fmt.Printf("%-18s %9s %9s %9s %9s %7s\n", "route", "requests", "req/s", "p50", "p99", "errors")
	for _, r := range routes {
		var lat []time.Duration
		var mu sync.Mutex
		var errs atomic.Int64
		var wg sync.WaitGroup
		deadline := time.Now().Add(*dur)
		start := time.Now()
		for i := 0; i < *conc; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				var mine []time.Duration
				tok := ""
				if r.authed {
					tok = tokens[i]
				}
				for time.Now().Before(deadline) {
					t0 := time.Now()
					code, _, err := call(r.method, r.path, tok, r.body(i))
					if err != nil || code != r.wantCodes {
						errs.Add(1)
						continue
					}
					mine = append(mine, time.Since(t0))
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}(i)
		}
		wg.Wait()
		el := time.Since(start)
		sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
		pct := func(p float64) time.Duration {
			if len(lat) == 0 {
				return 0
			}
			return lat[min(len(lat)-1, int(float64(len(lat))*p))]
		}
		fmt.Printf("%-18s %9d %9.0f %9s %9s %7d\n", r.name, len(lat), float64(len(lat))/el.Seconds(),
			pct(0.50).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond), errs.Load())
	}
}
