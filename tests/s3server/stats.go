package main

// Request and byte accounting, served as JSON at GET /__stats, so that a
// benchmark measures what a client fetched and uploaded from outside the
// client: requests by method and by kind, body bytes sent in responses and
// received in request bodies, per kind, since the server started. Counted
// before the signature check, so rejected requests count too.

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
)

type kindStats struct {
	Requests      int64 `json:"requests"`
	BytesSent     int64 `json:"bytes_sent"`     // response bodies
	BytesReceived int64 `json:"bytes_received"` // request bodies
}

type statsHandler struct {
	next     http.Handler
	mu       sync.Mutex
	byMethod map[string]int64
	byKind   map[string]*kindStats
	byExt    map[string]map[string]*kindStats // object key extension -> kind -> counts
}

func (k *kindStats) add(sent, received int64) {
	k.Requests++
	k.BytesSent += sent
	k.BytesReceived += received
}

// The extension of an object request's key ("parquet", "avro", "json"),
// "" for bucket requests and keys without one.
func keyExtension(r *http.Request) string {
	_, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	name := key[strings.LastIndex(key, "/")+1:]
	if dot := strings.LastIndex(name, "."); dot >= 0 {
		return name[dot+1:]
	}
	return ""
}

func newStatsHandler(next http.Handler) *statsHandler {
	return &statsHandler{next: next, byMethod: map[string]int64{}, byKind: map[string]*kindStats{},
		byExt: map[string]map[string]*kindStats{}}
}

// requestKind names the S3 operation of a path-style request (the tests
// and benchmarks use path style): "get_object", "get_range", "put_object",
// "upload_part", "list_objects", ...
func requestKind(r *http.Request) string {
	path := strings.TrimPrefix(r.URL.Path, "/")
	if path == "" {
		return "list_buckets"
	}
	_, key, _ := strings.Cut(path, "/")
	q := r.URL.Query()
	_, hasUploadID := q["uploadId"]
	if key == "" {
		switch r.Method {
		case http.MethodGet:
			if _, ok := q["uploads"]; ok {
				return "list_multipart_uploads"
			}
			return "list_objects"
		case http.MethodHead:
			return "head_bucket"
		case http.MethodPut:
			return "create_bucket"
		case http.MethodDelete:
			return "delete_bucket"
		case http.MethodPost:
			if _, ok := q["delete"]; ok {
				return "delete_objects"
			}
		}
		return "bucket_other"
	}
	switch r.Method {
	case http.MethodGet:
		if hasUploadID {
			return "list_parts"
		}
		if r.Header.Get("Range") != "" {
			return "get_range"
		}
		return "get_object"
	case http.MethodHead:
		return "head_object"
	case http.MethodPut:
		if _, ok := q["partNumber"]; ok && hasUploadID {
			return "upload_part"
		}
		if r.Header.Get("X-Amz-Copy-Source") != "" {
			return "copy_object"
		}
		return "put_object"
	case http.MethodPost:
		if _, ok := q["uploads"]; ok {
			return "create_multipart_upload"
		}
		if hasUploadID {
			return "complete_multipart_upload"
		}
	case http.MethodDelete:
		if hasUploadID {
			return "abort_multipart_upload"
		}
		return "delete_object"
	}
	return "object_other"
}

func (s *statsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/__stats" {
		s.writeStats(w)
		return
	}
	kind := requestKind(r)
	body := &countingBody{ReadCloser: r.Body}
	r.Body = body
	cw := &countingWriter{ResponseWriter: w, head: r.Method == http.MethodHead}
	defer func() {
		s.mu.Lock()
		s.byMethod[r.Method]++
		k := s.byKind[kind]
		if k == nil {
			k = &kindStats{}
			s.byKind[kind] = k
		}
		k.add(cw.n, body.n)
		if ext := keyExtension(r); ext != "" {
			m := s.byExt[ext]
			if m == nil {
				m = map[string]*kindStats{}
				s.byExt[ext] = m
			}
			e := m[kind]
			if e == nil {
				e = &kindStats{}
				m[kind] = e
			}
			e.add(cw.n, body.n)
		}
		s.mu.Unlock()
	}()
	s.next.ServeHTTP(cw, r)
}

// The JSON at /__stats. by_extension: the same counts per object key
// extension (data files "parquet", manifests "avro", metadata "json").
// get_body_bytes_sent: bodies of object GETs (whole
// and ranged); put_body_bytes_received: bodies of PUT objects and parts.
func (s *statsHandler) writeStats(w http.ResponseWriter) {
	s.mu.Lock()
	out := map[string]any{}
	methods := map[string]int64{}
	for m, n := range s.byMethod {
		methods[m] = n
	}
	kinds := map[string]kindStats{}
	var getBytes, putBytes, sent, received int64
	for k, v := range s.byKind {
		kinds[k] = *v
		sent += v.BytesSent
		received += v.BytesReceived
		switch k {
		case "get_object", "get_range":
			getBytes += v.BytesSent
		case "put_object", "upload_part":
			putBytes += v.BytesReceived
		}
	}
	byExt := map[string]map[string]kindStats{}
	for ext, m := range s.byExt {
		byExt[ext] = map[string]kindStats{}
		for k, v := range m {
			byExt[ext][k] = *v
		}
	}
	s.mu.Unlock()
	out["by_extension"] = byExt
	out["requests_by_method"] = methods
	out["kinds"] = kinds
	out["get_body_bytes_sent"] = getBytes
	out["put_body_bytes_received"] = putBytes
	out["body_bytes_sent"] = sent
	out["body_bytes_received"] = received
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

type countingBody struct {
	io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}

// Counts the body bytes written (none for HEAD, whose body the server
// drops). Hijack and Unwrap keep the proxy's connection closing and
// http.ResponseController working through it.
type countingWriter struct {
	http.ResponseWriter
	head bool
	n    int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	if !c.head {
		c.n += int64(n)
	}
	return n, err
}

func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func (c *countingWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (c *countingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h, ok := c.ResponseWriter.(http.Hijacker); ok {
		return h.Hijack()
	}
	return nil, nil, errors.New("hijacking not supported")
}
