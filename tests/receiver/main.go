// Test receiver that answers POST /ingest the way Grafana Pyroscope does
// (shared/reference/pyroscope-api.md sections 1, 4 and 8: the same accept and
// reject decisions and status codes for the same inputs), stores what it
// accepts, and fails on command.
//
//	receiver -dir DIR [-addr 127.0.0.1:0] [-port-file F] [-tls-cert C -tls-key K]
//	         [-multitenancy] [-basic-auth user:pass] [-faults 500,429,stall:3000,close,ok]
//	         [-version 2.0.2|2.1.0|none]
//
// Stored: DIR/NNNNNN.pb(.gz) per accepted request with a profile, and
// DIR/index.json, an array of entries (name, service_name, labels, from,
// until, sample types, totals, series, ...), rewritten after each one.
//
// Series: like the server's distributor (pkg/model/pprofsplit), every sample
// string label but span_id (profile_id is renamed to it) becomes a series
// label; trace_id too before v2.1.0 (grafana/pyroscope #5220 is in v2.1.0,
// not in v2.0.3-v2.0.6). -version picks the behaviour and what
// GET /api/v1/status/buildinfo reports; "none" serves no such route (404),
// like a server behind a proxy that only passes /ingest.
//
// Control (never affected by faults):
//
//	POST /control/faults?add=500,500,stall:3000,close   queue actions, one per /ingest request
//	POST /control/faults?set=...                        replace the queue
//	GET  /control/stats                                 counters and recent events (JSON)
//
// Deviations from the real server, on purpose: only format=pprof and the
// multipart pprof form are decoded (jfr, trie, tree, lines, speedscope and
// folded text get 422 "not supported by the test receiver"); the Push and
// OTLP APIs are not served (404); HTTP/2 is off.
package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

var (
	flagDir          = flag.String("dir", "", "where to store accepted profiles and index.json")
	flagAddr         = flag.String("addr", "127.0.0.1:0", "listen address")
	flagPortFile     = flag.String("port-file", "", "write host:port here once listening")
	flagCert         = flag.String("tls-cert", "", "serve HTTPS with this certificate (PEM)")
	flagKey          = flag.String("tls-key", "", "private key for -tls-cert")
	flagMultitenancy = flag.Bool("multitenancy", false, "require X-Scope-OrgID (401 without)")
	flagBasicAuth    = flag.String("basic-auth", "", "user:password a gateway would demand (401 otherwise)")
	flagFaults       = flag.String("faults", "", "initial fault queue, e.g. 500,429,stall:3000,close")
	flagBodyLimit    = flag.Int64("body-limit", 256<<20, "ingestion body limit in bytes (413 above)")
	flagMaxProfile   = flag.Int64("max-profile-bytes", 4<<20, "decompressed profile limit (422 above)")
	flagMaxSamples   = flag.Int("max-samples", 16000, "samples per profile (422 above)")
	flagBurst        = flag.Float64("burst-bytes", 2<<20, "rate-limit burst in bytes (429 above)")
	flagRate         = flag.Float64("rate-bytes", 4<<20, "rate limit in bytes per second")
	flagVersion      = flag.String("version", "2.0.2", "server version to model and report (none: no buildinfo route)")
)

const maxSampleLabels = 100
const maxLabelNames = 30

type entry struct {
	Seq         int               `json:"seq"`
	File        string            `json:"file,omitempty"`
	Received    string            `json:"received"`
	Name        string            `json:"name"`
	ServiceName string            `json:"service_name"`
	Labels      map[string]string `json:"labels"`
	From        string            `json:"from"`
	Until       string            `json:"until"`
	FromUnix    int64             `json:"from_unix"`
	UntilUnix   int64             `json:"until_unix"`
	SpyName     string            `json:"spy_name"`
	SampleRate  int64             `json:"sample_rate"`
	Format      string            `json:"format"`
	ContentType string            `json:"content_type"`
	Tenant      string            `json:"tenant"`
	Auth        string            `json:"auth"`
	Headers     map[string]string `json:"headers"`
	UserAgent   string            `json:"user_agent"`
	BodyBytes   int               `json:"body_bytes"`
	RawBytes    int               `json:"raw_bytes"`
	Gzip        bool              `json:"gzip"`
	TimeNanos   int64             `json:"time_nanos"`
	SampleTypes []string          `json:"sample_types"`
	ProfileIDs  []string          `json:"profile_type_ids"`
	Samples     int               `json:"samples"`
	Kept        int               `json:"kept_samples"`
	Totals      map[string]int64  `json:"totals"`
	SpanSamples int               `json:"span_id_samples"`
	SpanIDs     int               `json:"distinct_span_ids"`
	SampleKeys  []string          `json:"sample_label_keys"`
	Series      []string          `json:"series"`
	Ingested    bool              `json:"ingested"`
}

type event struct {
	Time    string `json:"time"`
	Status  int    `json:"status"`
	Action  string `json:"action"`
	Message string `json:"message,omitempty"`
	Name    string `json:"name,omitempty"`
}

type server struct {
	mu       sync.Mutex
	faults   []string
	entries  []entry
	events   []event
	byStatus map[string]int
	requests int
	closed   int
	stalled  int
	tokens   float64
	last     time.Time
	series   map[string]bool // distinct series of the tenant(s) so far
}

func newServer() *server {
	s := &server{byStatus: map[string]int{}, tokens: *flagBurst, last: time.Now(), series: map[string]bool{}}
	s.faults = splitList(*flagFaults)
	return s
}

func splitList(v string) []string {
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func (s *server) note(status int, action, msg, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byStatus[strconv.Itoa(status)]++
	if len(s.events) >= 1000 {
		s.events = s.events[1:]
	}
	s.events = append(s.events, event{time.Now().UTC().Format(time.RFC3339Nano), status, action, msg, name})
	if status != 200 || msg != "" {
		log.Printf("%d %s %s %s", status, action, name, msg)
	}
}

// connect error codes for HTTP statuses (pkg/util/connectgrpc HTTPToCode)
func codeFor(status int) string {
	switch status {
	case 400, 413:
		return "invalid_argument"
	case 401:
		return "unauthenticated"
	case 429:
		return "resource_exhausted"
	case 503:
		return "unavailable"
	}
	return "unknown"
}

func (s *server) fail(w http.ResponseWriter, status int, msg, name, action string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"code": codeFor(status), "message": msg})
	w.Write(b)
	s.note(status, action, msg, name)
}

// ---- name (labelset) parsing, 1.3 --------------------------------------

func serviceChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '.' || c == '/' || c == '-'
}

func keyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.'
}

func parseName(name string) (string, map[string]string, error) {
	labels := map[string]string{}
	svc, rest := name, ""
	if i := strings.IndexByte(name, '{'); i >= 0 {
		svc, rest = name[:i], name[i+1:]
	}
	for rest != "" {
		end := strings.IndexAny(rest, ",}")
		pair, stop := rest, true
		if end >= 0 {
			pair, stop = rest[:end], rest[end] == '}'
			rest = rest[end+1:]
		} else {
			rest = ""
		}
		if eq := strings.IndexByte(pair, '='); eq >= 0 {
			k, v := strings.TrimSpace(pair[:eq]), strings.TrimSpace(pair[eq+1:])
			if k == "" {
				return "", nil, errors.New("name: label name is required")
			}
			if k == "__name__" {
				svc = v
				continue
			}
			for i := 0; i < len(k); i++ {
				if !keyChar(k[i]) {
					return "", nil, fmt.Errorf("name: invalid label name %q: character is not allowed", k)
				}
			}
			labels[k] = v
		}
		if stop {
			break
		}
	}
	svc = strings.TrimSpace(svc)
	if svc == "" {
		return "", nil, errors.New("name: service name is required")
	}
	for i := 0; i < len(svc); i++ {
		if !serviceChar(svc[i]) {
			return "", nil, fmt.Errorf("name: invalid service name %q: character %q is not allowed", svc, svc[i])
		}
	}
	return svc, labels, nil
}

// ---- time parsing (pkg/og/util/attime) ----------------------------------

func parseTime(v string, now time.Time) time.Time {
	if v == "" {
		return now
	}
	digits := true
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			digits = false
		}
	}
	if digits {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return now
		}
		switch len(v) {
		case 8:
			if t, err := time.Parse("20060102", v); err == nil {
				return t
			}
			return time.Unix(n, 0)
		case 13:
			return time.UnixMilli(n)
		case 16:
			return time.UnixMicro(n)
		case 19:
			return time.Unix(0, n)
		}
		return time.Unix(n, 0)
	}
	if strings.HasPrefix(v, "now") {
		if d, err := time.ParseDuration(strings.TrimPrefix(strings.TrimPrefix(v, "now"), "+")); err == nil {
			return now.Add(d)
		}
	}
	return now
}

// ---- __name__ (1.7) ------------------------------------------------------

func metricName(p *profile, display map[string]string) string {
	names := make([]string, len(p.sampleTypes))
	for i, st := range p.sampleTypes {
		names[i], _ = p.str(st.typ)
		if names[i] == "wall" {
			return "wall"
		}
	}
	for _, n := range names {
		d := n
		if dn, ok := display[n]; ok && dn != "" {
			d = dn
		}
		switch {
		case strings.Contains(d, "cpu"):
			return "process_cpu"
		case strings.Contains(d, "alloc_") || strings.Contains(d, "inuse_") || d == "space" || d == "objects":
			return "memory"
		case strings.Contains(d, "mutex_"):
			return "mutex"
		case strings.Contains(d, "block_"):
			return "block"
		case strings.Contains(d, "goroutines"):
			return "goroutines"
		}
	}
	return names[len(names)-1]
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// ---- version (buildinfo) -------------------------------------------------------

// promotesTraceID: does the modelled server make trace_id a series label?
// Unknown versions are modelled as old.
func promotesTraceID() bool {
	v := strings.TrimPrefix(*flagVersion, "v")
	var major, minor int
	if _, err := fmt.Sscanf(v, "%d.%d", &major, &minor); err != nil {
		return true
	}
	return major < 2 || (major == 2 && minor < 1)
}

// GET /api/v1/status/buildinfo as the server's grpc-gateway renders
// status.v1.GetBuildInfoResponse.
func (s *server) buildinfo(w http.ResponseWriter, r *http.Request) {
	if *flagVersion == "none" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet {
		w.WriteHeader(405)
		return
	}
	b, _ := json.Marshal(map[string]interface{}{"status": "success", "data": map[string]string{
		"version": *flagVersion, "revision": "0000000", "branch": "release", "buildUser": "",
		"buildDate": "", "goVersion": "go1.25"}})
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
	s.note(200, "buildinfo", "", "")
}

// seriesKey: the label set as {k="v",...}, sorted.
func seriesKey(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", k, labels[k])
	}
	b.WriteByte('}')
	return b.String()
}

// ---- the handler ------------------------------------------------------------

func (s *server) popFault() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if len(s.faults) == 0 {
		return ""
	}
	f := s.faults[0]
	s.faults = s.faults[1:]
	return f
}

func (s *server) ingest(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if r.Method != http.MethodPost {
		s.fail(w, 405, "method not allowed", name, "method")
		return
	}
	// Faults first: they stand for a server or proxy in trouble.
	var body []byte
	var bodyErr error
	bodyRead := false
	if f := s.popFault(); f != "" {
		switch {
		case f == "close":
			s.mu.Lock()
			s.closed++
			s.mu.Unlock()
			s.note(0, "close", "connection closed on command", name)
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		case strings.HasPrefix(f, "stall:"):
			ms, _ := strconv.Atoi(strings.TrimPrefix(f, "stall:"))
			// Read the body first: only then does net/http watch the
			// connection and cancel the context when the client leaves.
			body, bodyErr = io.ReadAll(http.MaxBytesReader(w, r.Body, *flagBodyLimit))
			bodyRead = true
			s.mu.Lock()
			s.stalled++
			s.mu.Unlock()
			select {
			case <-time.After(time.Duration(ms) * time.Millisecond):
				s.note(0, "stall", fmt.Sprintf("stalled %d ms, then served", ms), name)
			case <-r.Context().Done():
				// The client gave up: like a server that never got to it.
				s.note(0, "stall", fmt.Sprintf("client left during a %d ms stall; nothing stored", ms), name)
				return
			}
		case f == "ok":
		default:
			st, err := strconv.Atoi(f)
			if err == nil && st >= 100 && st <= 599 {
				s.fail(w, st, fmt.Sprintf("injected failure %d", st), name, "fault")
				return
			}
		}
	}
	// 1. auth
	tenant := "anonymous"
	if *flagMultitenancy {
		tenant = r.Header.Get("X-Scope-OrgID")
		if tenant == "" {
			s.fail(w, 401, "no org id", name, "auth")
			return
		}
	}
	auth := "none"
	if a := r.Header.Get("Authorization"); a != "" {
		auth = strings.SplitN(a, " ", 2)[0]
		if u, _, ok := r.BasicAuth(); ok {
			auth = "basic:" + u
		}
	}
	if *flagBasicAuth != "" {
		u, p, ok := r.BasicAuth()
		if !ok || u+":"+p != *flagBasicAuth {
			s.fail(w, 401, "invalid credentials", name, "auth")
			return
		}
	}
	// 2. body limit, read whole
	if !bodyRead {
		body, bodyErr = io.ReadAll(http.MaxBytesReader(w, r.Body, *flagBodyLimit))
	}
	if err := bodyErr; err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.fail(w, 413, fmt.Sprintf("request body too large: %v", err), name, "body")
		} else {
			s.fail(w, 408, fmt.Sprintf("error reading body: %v", err), name, "body")
		}
		return
	}
	// 3. metadata: only name can fail
	q := r.URL.Query()
	svc, nameLabels, err := parseName(name)
	if err != nil {
		s.fail(w, 400, err.Error(), name, "name")
		return
	}
	now := time.Now()
	from, until := parseTime(q.Get("from"), now), parseTime(q.Get("until"), now)
	spy := q.Get("spyName")
	if spy == "" {
		spy = "unknown"
	}
	rate, err := strconv.ParseInt(q.Get("sampleRate"), 10, 64)
	if err != nil || rate < 0 {
		rate = 100
	}
	e := entry{
		Received: now.UTC().Format(time.RFC3339Nano), Name: name, ServiceName: svc,
		From: q.Get("from"), Until: q.Get("until"), FromUnix: from.Unix(), UntilUnix: until.Unix(),
		SpyName: spy, SampleRate: rate, ContentType: r.Header.Get("Content-Type"),
		Tenant: tenant, Auth: auth, UserAgent: r.UserAgent(), BodyBytes: len(body),
		Headers: map[string]string{},
	}
	for k, v := range r.Header {
		if strings.HasPrefix(k, "X-") {
			e.Headers[k] = strings.Join(v, ",")
		}
	}
	// 4. format (1.4)
	format := q.Get("format")
	ct := r.Header.Get("Content-Type")
	var display map[string]string
	switch {
	case format == "trie" || format == "tree" || format == "lines" || format == "jfr" || format == "speedscope" ||
		strings.HasPrefix(ct, "binary/octet-stream+"):
		s.fail(w, 422, "format "+format+" is not supported by the test receiver", name, "format")
		return
	case format == "pprof":
		e.Format = "pprof"
	case strings.Contains(ct, "multipart/form-data"):
		e.Format = "multipart"
		var ok bool
		body, display, ok = s.multipart(w, ct, body, name)
		if !ok {
			return
		}
	default:
		s.fail(w, 422, "folded-text (groups) bodies are not supported by the test receiver", name, "format")
		return
	}
	if len(body) == 0 {
		s.note(200, "empty", "accepted an empty profile: nothing ingested", name)
		s.store(&e, nil, nil)
		w.WriteHeader(200)
		return
	}
	// 5. pprof (1.6, 4)
	raw, gz, err := maybeGunzip(body, *flagMaxProfile)
	if err != nil {
		s.fail(w, 422, "failed to decompress profile: "+err.Error(), name, "pprof")
		return
	}
	e.Gzip = gz
	if int64(len(raw)) > *flagMaxProfile {
		s.fail(w, 422, fmt.Sprintf("uncompressed profile payload size exceeds limit of %d bytes", *flagMaxProfile), name, "pprof")
		return
	}
	e.RawBytes = len(raw)
	p, err := decodeProfile(raw)
	if err != nil {
		s.fail(w, 422, "failed to parse pprof: "+err.Error(), name, "pprof")
		return
	}
	if err := p.validate(*flagMaxSamples, maxSampleLabels); err != nil {
		s.fail(w, 422, err.Error(), name, "validate")
		return
	}
	if p.timeNanos > 0 {
		t := time.Unix(0, p.timeNanos)
		if !t.After(now.Add(-time.Hour)) || !t.Before(now.Add(10*time.Minute)) {
			s.fail(w, 422, fmt.Sprintf("profile with labels %s is outside of ingestion window (profile timestamp: %s)", name, t.UTC().Format(time.RFC3339)), name, "window")
			return
		}
	} else {
		p.timeNanos = from.UnixNano()
	}
	e.TimeNanos = p.timeNanos
	// 6. series labels (1.3, 1.7) and their limits
	metric := metricName(p, display)
	labels := map[string]string{"__name__": metric, "__delta__": "false", "pyroscope_spy": spy, "service_name": svc}
	for k, v := range nameLabels {
		if strings.HasPrefix(k, "__") {
			continue
		}
		labels[k] = v
	}
	keep := p.kept()
	maxNames := 0
	keySet := map[string]bool{}
	spanIDs := map[string]bool{}
	series := map[string]bool{}
	traceIsSeries := promotesTraceID()
	for _, smp := range keep {
		extra := map[string]bool{}
		sl := map[string]string{}
		hasSpan := false
		for _, l := range smp.labels {
			if l.str == 0 {
				continue // numeric labels are removed
			}
			k, v := p.strings[l.key], p.strings[l.str]
			keySet[k] = true
			switch k {
			case "span_id", "profile_id":
				if len(v) == 16 && isHex(v) && !hasSpan {
					hasSpan = true
					spanIDs[v] = true
				}
				continue
			case "trace_id":
				if !traceIsSeries {
					continue
				}
			}
			if len(k) > 1024 || len(v) > 2048 || !utf8.ValidString(v) {
				s.fail(w, 422, fmt.Sprintf("sample label %q is over the name/value limits", k), name, "labels")
				return
			}
			if _, base := labels[k]; !base {
				extra[k] = true
			}
			sl[k] = v
		}
		for k, v := range labels {
			if _, ok := sl[k]; !ok {
				sl[k] = v
			}
		}
		series[tenant+seriesKey(sl)] = true
		if hasSpan {
			e.SpanSamples++
		}
		if n := len(labels) + len(extra); n > maxNames {
			maxNames = n
		}
	}
	if len(labels) > maxNames {
		maxNames = len(labels)
	}
	for k, v := range labels {
		if len(k) > 1024 || len(v) > 2048 || !utf8.ValidString(v) {
			s.fail(w, 422, fmt.Sprintf("label %q is over the name/value limits or not UTF-8", k), name, "labels")
			return
		}
	}
	if maxNames > maxLabelNames {
		s.fail(w, 422, fmt.Sprintf("profile series has %d label names, over the limit of %d", maxNames, maxLabelNames), name, "labels")
		return
	}
	// 7. rate limit: cost = label bytes + decoded profile size
	cost := float64(len(raw))
	for k, v := range labels {
		cost += float64(len(k) + len(v))
	}
	if !s.allow(cost) {
		s.fail(w, 429, fmt.Sprintf("push rate limit (%.0f bytes/s, burst %.0f) exceeded by a %.0f-byte profile", *flagRate, *flagBurst, cost), name, "ratelimit")
		return
	}
	// 8. accepted
	e.Labels = labels
	e.Samples = len(p.samples)
	e.Kept = len(keep)
	e.Totals = map[string]int64{}
	for i, st := range p.sampleTypes {
		t, _ := p.str(st.typ)
		u, _ := p.str(st.unit)
		e.SampleTypes = append(e.SampleTypes, t+"/"+u)
		pt, _ := p.str(p.periodType.typ)
		pu, _ := p.str(p.periodType.unit)
		e.ProfileIDs = append(e.ProfileIDs, metric+":"+t+":"+u+":"+pt+":"+pu)
		var sum int64
		for _, smp := range keep {
			sum += smp.values[i]
		}
		e.Totals[t] = sum
	}
	e.SpanIDs = len(spanIDs)
	for k := range keySet {
		e.SampleKeys = append(e.SampleKeys, k)
	}
	sort.Strings(e.SampleKeys)
	for k := range series {
		e.Series = append(e.Series, strings.TrimPrefix(k, tenant))
	}
	sort.Strings(e.Series)
	s.mu.Lock()
	for k := range series {
		s.series[k] = true
	}
	s.mu.Unlock()
	e.Ingested = len(keep) > 0
	if !e.Ingested {
		s.note(200, "empty", "accepted a profile without samples: nothing ingested", name)
	}
	s.store(&e, body, nil)
	s.note(200, "ingest", "", name)
	w.WriteHeader(200)
}

func (s *server) allow(cost float64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.tokens += now.Sub(s.last).Seconds() * *flagRate
	if s.tokens > *flagBurst {
		s.tokens = *flagBurst
	}
	s.last = now
	if cost > *flagBurst || cost > s.tokens {
		return false
	}
	s.tokens -= cost
	return true
}

// multipart pprof form (1.5). Returns the profile bytes (nil: none).
func (s *server) multipart(w http.ResponseWriter, ct string, body []byte, name string) ([]byte, map[string]string, bool) {
	_, params, err := mime.ParseMediaType(ct)
	if err != nil || params["boundary"] == "" {
		s.fail(w, 422, "multipart: no boundary", name, "multipart")
		return nil, nil, false
	}
	form, err := multipart.NewReader(bytes.NewReader(body), params["boundary"]).ReadForm(32 << 20)
	if err != nil {
		s.fail(w, 422, "multipart: "+err.Error(), name, "multipart")
		return nil, nil, false
	}
	defer form.RemoveAll()
	read := func(field string) ([]byte, error) {
		fh := form.File[field]
		if len(fh) == 0 {
			return nil, nil
		}
		f, err := fh[0].Open()
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return io.ReadAll(f)
	}
	if prev, err := read("prev_profile"); err != nil || len(prev) > 0 {
		s.fail(w, 422, "unsupported client version: prev_profile is not supported", name, "multipart")
		return nil, nil, false
	}
	var display map[string]string
	if cfg, err := read("sample_type_config"); err != nil {
		s.fail(w, 422, "multipart: "+err.Error(), name, "multipart")
		return nil, nil, false
	} else if cfg != nil {
		var m map[string]struct {
			DisplayName string `json:"display-name"`
		}
		if err := json.Unmarshal(cfg, &m); err != nil {
			s.fail(w, 422, "sample_type_config: "+err.Error(), name, "multipart")
			return nil, nil, false
		}
		display = map[string]string{}
		for k, v := range m {
			display[k] = v.DisplayName
		}
	}
	prof, err := read("profile")
	if err != nil {
		s.fail(w, 422, "multipart: "+err.Error(), name, "multipart")
		return nil, nil, false
	}
	if display == nil {
		display = map[string]string{"samples": "cpu"}
	}
	return prof, display, true
}

func (s *server) store(e *entry, body []byte, _ error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.Seq = len(s.entries) + 1
	if body != nil {
		e.File = fmt.Sprintf("%06d.pb", e.Seq)
		if e.Gzip {
			e.File += ".gz"
		}
		if err := os.WriteFile(filepath.Join(*flagDir, e.File), body, 0644); err != nil {
			log.Printf("store: %v", err)
		}
	}
	s.entries = append(s.entries, *e)
	b, _ := json.MarshalIndent(s.entries, "", " ")
	tmp := filepath.Join(*flagDir, "index.json.tmp")
	if err := os.WriteFile(tmp, b, 0644); err == nil {
		os.Rename(tmp, filepath.Join(*flagDir, "index.json"))
	}
}

func (s *server) control(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/control/faults":
		s.mu.Lock()
		if v := r.URL.Query().Get("set"); r.URL.Query().Has("set") {
			s.faults = splitList(v)
		}
		s.faults = append(s.faults, splitList(r.URL.Query().Get("add"))...)
		b, _ := json.Marshal(map[string]interface{}{"pending": s.faults})
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	case "/control/stats":
		s.mu.Lock()
		accepted, ingested := 0, 0
		for _, e := range s.entries {
			accepted++
			if e.Ingested {
				ingested++
			}
		}
		b, _ := json.MarshalIndent(map[string]interface{}{
			"requests": s.requests, "accepted": accepted, "ingested": ingested,
			"by_status": s.byStatus, "closed": s.closed, "stalled": s.stalled, "series": len(s.series),
			"pending_faults": s.faults, "events": s.events,
		}, "", " ")
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	default:
		http.NotFound(w, r)
	}
}

func main() {
	flag.Parse()
	log.SetPrefix("receiver: ")
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	if *flagDir == "" {
		log.Fatal("-dir is required")
	}
	if err := os.MkdirAll(*flagDir, 0755); err != nil {
		log.Fatal(err)
	}
	s := newServer()
	mux := http.NewServeMux()
	mux.HandleFunc("/ingest", s.ingest)
	mux.HandleFunc("/pyroscope/ingest", s.ingest)
	mux.HandleFunc("/control/", s.control)
	mux.HandleFunc("/api/v1/status/buildinfo", s.buildinfo)
	ln, err := net.Listen("tcp", *flagAddr)
	if err != nil {
		log.Fatal(err)
	}
	if *flagPortFile != "" {
		tmp := *flagPortFile + ".tmp"
		os.WriteFile(tmp, []byte(ln.Addr().String()+"\n"), 0644)
		os.Rename(tmp, *flagPortFile)
	}
	srv := &http.Server{Handler: mux, TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){}}
	log.Printf("listening on %s (tls=%v)", ln.Addr(), *flagCert != "")
	if *flagCert != "" {
		err = srv.ServeTLS(ln, *flagCert, *flagKey)
	} else {
		err = srv.Serve(ln)
	}
	log.Fatal(err)
}
