// Command gitserve serves bare repositories over git's smart HTTP protocol (git http-backend) on
// loopback, adding a fixed delay to each request to stand in for a hosted remote's round trip.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"strings"
	"time"
)

func main() {
	root := flag.String("root", "", "folder of bare repositories")
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback)")
	delay := flag.Duration("delay", 40*time.Millisecond, "added to every request")
	flag.Parse()
	execPath, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gitserve: git not found")
		os.Exit(1)
	}
	backend := &cgi.Handler{Path: strings.TrimSpace(string(execPath)) + "/git-http-backend", Root: "/",
		Env: []string{"GIT_PROJECT_ROOT=" + *root, "GIT_HTTP_EXPORT_ALL=1"}}
	l, err := net.Listen("tcp", *addr)
	if err != nil || !strings.HasPrefix(l.Addr().String(), "127.0.0.1:") {
		fmt.Fprintln(os.Stderr, "gitserve: listen on loopback:", err)
		os.Exit(1)
	}
	fmt.Println("http://" + l.Addr().String())
	http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(*delay)
		backend.ServeHTTP(w, r)
	}))
}
