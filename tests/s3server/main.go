// frazil-s3server: the S3 server the tests run on loopback, and the
// fault-injecting proxy they put in front of it.
//
// Server mode serves the S3 API with gofakes3 (MIT; MinIO is AGPL, see
// docs/s3.md) from memory or a bolt file, and, given --access-key and
// --secret-key, rejects requests whose Signature Version 4 does not verify
// (gofakes3 itself checks no signature), so a client's signing is checked
// by a second, independent implementation.
//
// Proxy mode (--upstream URL) forwards every request, except that the
// first ones fail in the ways chosen, in this order: --drop N (connection
// closed without a response), --fail-503 N, --slowdown N (503 SlowDown),
// --lose-responses N (forwarded, so it takes effect, then the connection is
// closed instead of answering).
// Drops come first, on a fresh connection: a client like libcurl silently
// re-sends a request once when a connection it reused dies before any
// answer, so a drop there would not be seen by the client at all. GET /__faults returns how
// many faults were injected so far. --deny-parts answers every part upload
// of a multipart upload 403 (to show failed uploads are aborted).
//
// Both print "listening on HOST:PORT" once ready (use --addr 127.0.0.1:0
// for a free port), and both answer GET /__stats with the requests and body
// bytes they saw since start, by method and by S3 operation (stats.go).
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"sync/atomic"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3bolt"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	dir := flag.String("dir", "", "directory for a persistent store (bolt file inside); empty = in memory")
	accessKey := flag.String("access-key", "", "access key id that requests must be signed with (empty = no check)")
	secretKey := flag.String("secret-key", "", "its secret access key")
	upstream := flag.String("upstream", "", "proxy mode: forward to this URL")
	fail503 := flag.Int64("fail-503", 0, "proxy: after the drops, answer N requests 503 ServiceUnavailable")
	slowdown := flag.Int64("slowdown", 0, "proxy: then answer N requests 503 SlowDown")
	drop := flag.Int64("drop", 0, "proxy: drop the connection of the first N requests")
	lose := flag.Int64("lose-responses", 0, "proxy: then forward N requests but drop the connection instead of answering")
	denyParts := flag.Bool("deny-parts", false, "proxy: answer every multipart part upload 403 AccessDenied")
	flag.Parse()

	var handler http.Handler
	if *upstream != "" {
		u, err := url.Parse(*upstream)
		if err != nil {
			log.Fatalf("bad --upstream: %v", err)
		}
		p := newFaultProxy(httputil.NewSingleHostReverseProxy(u), *fail503, *slowdown, *drop)
		p.denyParts = *denyParts
		p.lose = *lose
		handler = p
	} else {
		var backend gofakes3.Backend
		if *dir == "" {
			backend = s3mem.New()
		} else {
			b, err := s3bolt.NewFile(*dir + "/s3.bolt")
			if err != nil {
				log.Fatalf("opening store in %s: %v", *dir, err)
			}
			backend = b
		}
		handler = gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server()
		if *accessKey != "" {
			handler = &sigV4Verifier{next: handler, accessKey: *accessKey, secretKey: *secretKey}
		}
	}

	handler = newStatsHandler(handler)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("listen %s: %v", *addr, err)
	}
	fmt.Printf("listening on %s\n", ln.Addr().String())
	os.Stdout.Sync()
	log.Fatal(http.Serve(ln, handler))
}

type faultProxy struct {
	next                    http.Handler
	fail503, slowdown, drop int64
	lose                    int64
	denyParts               bool
	seen, injected          atomic.Int64
}

func newFaultProxy(next http.Handler, fail503, slowdown, drop int64) *faultProxy {
	return &faultProxy{next: next, fail503: fail503, slowdown: slowdown, drop: drop}
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/__faults" {
		fmt.Fprintf(w, "%d\n", p.injected.Load())
		return
	}
	if _, isPart := r.URL.Query()["partNumber"]; p.denyParts && isPart && r.Method == http.MethodPut {
		p.injected.Add(1)
		s3Error(w, http.StatusForbidden, "AccessDenied", "part uploads denied (injected)")
		return
	}
	n := p.seen.Add(1)
	switch {
	case n <= p.drop:
		p.injected.Add(1)
		closeConnection(w)
	case n <= p.drop+p.fail503:
		p.injected.Add(1)
		s3Error(w, http.StatusServiceUnavailable, "ServiceUnavailable", "injected fault")
	case n <= p.drop+p.fail503+p.slowdown:
		p.injected.Add(1)
		s3Error(w, http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate (injected)")
	case n <= p.drop+p.fail503+p.slowdown+p.lose:
		// The request takes effect upstream; its answer is lost.
		p.injected.Add(1)
		p.next.ServeHTTP(httptest.NewRecorder(), r)
		closeConnection(w)
	default:
		p.next.ServeHTTP(w, r)
	}
}

// Closes the client's connection without an answer.
func closeConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler) // closes the connection too
}

func s3Error(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message></Error>", code, message)
}
