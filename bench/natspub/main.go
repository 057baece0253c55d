// Command natspub publishes as fast as it can for a while, for the tail benchmark. Loopback only.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

func main() {
	url := flag.String("url", "nats://127.0.0.1:24222", "NATS server (loopback)")
	dur := flag.Duration("d", 10*time.Second, "how long")
	size := flag.Int("size", 128, "payload bytes")
	flag.Parse()
	if !strings.Contains(*url, "127.0.0.1") && !strings.Contains(*url, "localhost") {
		fmt.Fprintln(os.Stderr, "natspub: loopback only")
		os.Exit(2)
	}
	nc, err := nats.Connect(*url, nats.Name("natspub"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer nc.Close()
	payload := make([]byte, *size)
	subjects := []string{"assets.create", "auth.verify", "notifications.created.u1", "gateway.deliver.a"}
	end := time.Now().Add(*dur)
	n := 0
	for time.Now().Before(end) {
		for i := 0; i < 1000; i++ {
			nc.Publish(subjects[n%len(subjects)], payload)
			n++
		}
	}
	nc.Flush()
	fmt.Printf("published %d messages in %s (%.0f msg/s)\n", n, *dur, float64(n)/dur.Seconds())
}
