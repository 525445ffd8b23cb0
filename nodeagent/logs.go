package nodeagent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/logmon"
	"github.com/nomadic-project/nomadic/pkg/loop"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Task logs live in the allocation directory, alloc/logs/<task>.<stream>.N:
// the task (or containerd's shim for it) appends to N = 0, and the agent
// rotates by copying 0 to 1 (shifting older copies up) and truncating 0
// when it passes the task's max_file_size, keeping max_files files. The
// writers open the file in append mode, so truncation is safe for them;
// what they write between the copy and the truncation is lost, a window of
// microseconds (logrotate's copytruncate makes the same trade). The agent
// is never in the path of a task's output.

// logPath is the path of log file n of a task's stream.
func logPath(allocDir, task, stream string, n int) string {
	return filepath.Join(allocDir, "alloc", "logs", fmt.Sprintf("%s.%s.%d", task, stream, n))
}

// rotateLogs rotates the log files of a task's streams that grew past
// their size.
func rotateLogs(allocDir, task string, cfg *api.LogConfig) error {
	if cfg == nil || cfg.Disabled {
		return nil
	}
	maxSize := int64(max(cfg.MaxFileSizeMB, 1)) << 20
	maxFiles := max(cfg.MaxFiles, 1)
	var errs []error
	for _, stream := range []string{"stdout", "stderr"} {
		cur := logPath(allocDir, task, stream, 0)
		fi, err := os.Stat(cur)
		if err != nil || fi.Size() <= maxSize {
			continue
		}
		// Shift the copies: N-1 is dropped, i becomes i+1.
		_ = os.Remove(logPath(allocDir, task, stream, maxFiles-1))
		for i := maxFiles - 2; i >= 1; i-- {
			_ = os.Rename(logPath(allocDir, task, stream, i), logPath(allocDir, task, stream, i+1))
		}
		if maxFiles > 1 {
			if err := copyFile(cur, logPath(allocDir, task, stream, 1)); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if err := os.Truncate(cur, 0); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// rotateLoop rotates the logs of the agent's running allocations every few
// seconds until ctx ends.
func (a *Agent) rotateLoop(ctx context.Context) {
	loop.Every(ctx, 2*time.Second, "rotating logs", func(context.Context) error {
		for _, r := range a.runnerList() {
			for task, cfg := range r.logConfigs() {
				if err := rotateLogs(a.AllocDir(r.current().ID), task, cfg); err != nil {
					slog.Warn("rotating logs", "alloc", r.current().ID, "task", task, "err", err)
				}
			}
		}
		return nil
	})
}

// readLogs writes a task's log stream to w: the rotated copies oldest
// first, then the current file; with tail > 0 only the last tail bytes.
// With follow it then keeps writing what is appended, until ctx ends.
func readLogs(ctx context.Context, w io.Writer, allocDir, task, stream string, tail int64, follow bool, maxFiles int) error {
	var files []string
	for i := max(maxFiles, 1) - 1; i >= 0; i-- {
		if p := logPath(allocDir, task, stream, i); fileExists(p) {
			files = append(files, p)
		}
	}
	if len(files) == 0 && !follow {
		return fmt.Errorf("task %q has no %s log", task, stream)
	}
	var total int64
	sizes := make([]int64, len(files))
	for i, f := range files {
		if fi, err := os.Stat(f); err == nil {
			sizes[i] = fi.Size()
			total += fi.Size()
		}
	}
	skip := int64(0)
	if tail > 0 && total > tail {
		skip = total - tail
	}
	var offset int64 // how much of the current file was written
	for i, f := range files {
		if f == logPath(allocDir, task, stream, 0) {
			offset = sizes[i]
		}
		if skip >= sizes[i] {
			skip -= sizes[i]
			continue
		}
		if _, err := copyFrom(w, f, skip, sizes[i]); err != nil {
			return err
		}
		skip = 0
	}
	if !follow {
		return nil
	}
	cur := logPath(allocDir, task, stream, 0)
	flush := func() {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
	flush()
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		fi, err := os.Stat(cur)
		if err != nil {
			continue
		}
		if fi.Size() < offset {
			offset = 0 // rotated: the current file starts over
		}
		if fi.Size() > offset {
			n, err := copyFrom(w, cur, offset, fi.Size())
			if err != nil {
				return err
			}
			offset += n
			flush()
		}
	}
}

// copyFrom copies bytes [from, to) of a file to w.
func copyFrom(w io.Writer, path string, from, to int64) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return 0, err
	}
	return io.CopyN(w, f, to-from)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Handler serves the agent's HTTP endpoints: task logs, which the
// servers' API proxies for nctl, and the agent's Prometheus metrics.
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/client/logs/{alloc}/{task}", a.serveLogs)
	mux.HandleFunc("GET /v1/client/ls/{alloc}", a.serveList)
	mux.HandleFunc("GET /v1/client/stat/{alloc}", a.serveStat)
	mux.HandleFunc("GET /v1/client/cat/{alloc}", a.serveCat)
	mux.HandleFunc("GET /v1/client/exec/{alloc}/{task}", a.serveExec)
	mux.HandleFunc("GET /v1/client/usage/{alloc}", a.serveAllocUsage)
	mux.HandleFunc("GET /v1/client/usage", a.serveHostUsage)
	mux.HandleFunc("GET /v1/client/monitor", a.serveMonitor)
	metrics := promhttp.Handler()
	mux.Handle("GET /metrics", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.countTasks()
		metrics.ServeHTTP(w, r)
	}))
	return mux
}

func (a *Agent) serveLogs(w http.ResponseWriter, req *http.Request) {
	allocID, task := req.PathValue("alloc"), req.PathValue("task")
	if strings.ContainsAny(allocID, "/.") || strings.ContainsAny(task, "/") || task == ".." {
		http.Error(w, `{"error":"bad allocation or task name"}`, http.StatusBadRequest)
		return
	}
	q := req.URL.Query()
	stream := q.Get("type")
	if stream == "" {
		stream = "stdout"
	}
	if stream != "stdout" && stream != "stderr" {
		http.Error(w, `{"error":"type must be stdout or stderr"}`, http.StatusBadRequest)
		return
	}
	tail, _ := strconv.ParseInt(q.Get("tail_bytes"), 10, 64)
	follow := q.Get("follow") == "true"
	dir := a.AllocDir(allocID)
	if !fileExists(dir) {
		http.Error(w, fmt.Sprintf(`{"error":"allocation %s is not on this node"}`, allocID), http.StatusNotFound)
		return
	}
	maxFiles := 10
	a.mu.Lock()
	if r := a.runners[allocID]; r != nil {
		if cfg := r.logConfigs()[task]; cfg != nil {
			maxFiles = cfg.MaxFiles
		}
	}
	a.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := readLogs(req.Context(), w, dir, task, stream, tail, follow, maxFiles); err != nil {
		http.Error(w, fmt.Sprintf(`{"error":%q}`, err.Error()), http.StatusNotFound)
	}
}

// allocOpen opens the path query of a request inside the directory of
// its allocation, through an os.Root: a path that leaves it (through "..",
// or a link pointing out, even one swapped in meanwhile) is answered 404,
// as one that does not exist. It also returns where the opened file is,
// relative to the allocation directory, links resolved. It writes the
// answer itself when it reports false; the caller closes the file.
func (a *Agent) allocOpen(w http.ResponseWriter, req *http.Request, what string) (f *os.File, where, rel string, ok bool) {
	allocID := req.PathValue("alloc")
	if allocID == "" || strings.ContainsAny(allocID, "/.") {
		http.Error(w, `{"error":"bad allocation ID"}`, http.StatusBadRequest)
		return nil, "", "", false
	}
	rel = filepath.Clean("/" + req.URL.Query().Get("path"))
	notFound := func() {
		http.Error(w, fmt.Sprintf(`{"error":"no such %s %s in allocation %s"}`, what, rel, allocID), http.StatusNotFound)
	}
	dir := a.AllocDir(allocID)
	root, err := os.OpenRoot(dir)
	if err != nil {
		notFound()
		return nil, "", "", false
	}
	defer root.Close()
	name := strings.TrimPrefix(rel, "/")
	if name == "" {
		name = "."
	}
	f, err = root.Open(name)
	if err != nil {
		notFound()
		return nil, "", "", false
	}
	// Where the opened file is: the kernel's name of the descriptor.
	real, err1 := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
	top, err2 := filepath.EvalSymlinks(dir)
	where, err3 := filepath.Rel(top, real)
	if err1 != nil || err2 != nil || err3 != nil || strings.HasPrefix(where, "..") {
		f.Close()
		notFound()
		return nil, "", "", false
	}
	return f, where, rel, true
}

// inSecrets reports whether where (relative to the allocation directory,
// links resolved) is inside a task's secrets directory: <task>/secrets/...
func inSecrets(where string) bool {
	parts := strings.Split(where, string(filepath.Separator))
	return len(parts) >= 2 && parts[0] != "alloc" && parts[1] == "secrets"
}

func fileInfo(name string, fi os.FileInfo) api.FileInfo {
	return api.FileInfo{Name: name, IsDir: fi.IsDir(), Size: fi.Size(), Mode: fi.Mode().String(), ModTime: fi.ModTime().UTC()}
}

// serveStat describes one file or directory of an allocation.
func (a *Agent) serveStat(w http.ResponseWriter, req *http.Request) {
	f, _, rel, ok := a.allocOpen(w, req, "file or directory")
	if !ok {
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		http.Error(w, fmt.Sprintf(`{"error":"no such file %s"}`, rel), http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(fileInfo(filepath.Base(rel), fi))
}

// serveCat sends a file of an allocation: from offset (from the end with
// origin=end), at most limit bytes (0: to its end); with follow=true it
// goes on with what is appended until the request ends.
func (a *Agent) serveCat(w http.ResponseWriter, req *http.Request) {
	f, where, rel, ok := a.allocOpen(w, req, "file")
	if !ok {
		return
	}
	defer f.Close()
	if inSecrets(where) {
		// Tokens and rendered secrets stay with the task, as in Nomad:
		// read-fs is not a way to a task's credentials.
		http.Error(w, `{"error":"reading files of a task's secrets directory is not allowed"}`, http.StatusForbidden)
		return
	}
	q := req.URL.Query()
	var offset, limit int64
	for name, dst := range map[string]*int64{"offset": &offset, "limit": &limit} {
		if v := q.Get(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				http.Error(w, fmt.Sprintf(`{"error":"%s %q is not a number of bytes"}`, name, v), http.StatusBadRequest)
				return
			}
			*dst = n
		}
	}
	fi, err := f.Stat()
	if err != nil || fi.IsDir() {
		http.Error(w, fmt.Sprintf(`{"error":"%s is a directory"}`, rel), http.StatusBadRequest)
		return
	}
	if q.Get("origin") == "end" {
		offset = max(fi.Size()-offset, 0)
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		http.Error(w, fmt.Sprintf(`{"error":%q}`, err.Error()), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
	var src io.Reader = f
	if limit > 0 {
		src = io.LimitReader(f, limit)
	}
	n, err := io.Copy(w, src)
	if err != nil || q.Get("follow") != "true" || (limit > 0 && n >= limit) {
		return
	}
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush()
	}
	// Following: what is appended, until the client goes.
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-req.Context().Done():
			return
		case <-t.C:
		}
		m, err := io.Copy(w, f)
		if err != nil {
			return
		}
		if m > 0 && flusher != nil {
			flusher.Flush()
		}
	}
}

// serveList lists a directory inside an allocation's directory.
func (a *Agent) serveList(w http.ResponseWriter, req *http.Request) {
	f, _, rel, ok := a.allocOpen(w, req, "directory")
	if !ok {
		return
	}
	defer f.Close()
	allocID := req.PathValue("alloc")
	entries, err := f.ReadDir(-1)
	if err != nil {
		http.Error(w, fmt.Sprintf(`{"error":"no such directory %s in allocation %s"}`, rel, allocID), http.StatusNotFound)
		return
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	out := make([]api.FileInfo, 0, len(entries))
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			continue
		}
		out = append(out, fileInfo(e.Name(), fi))
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// serveMonitor streams the agent's own log, lines as they are written at
// the level asked for (?log_level=, info by default; ?log_json=true for
// JSON lines), and an empty line every 10 s, until the request ends: what
// the servers relay for nomad monitor -node-id.
func (a *Agent) serveMonitor(w http.ResponseWriter, req *http.Request) {
	if !a.execAllowed() {
		// Its log is the servers' to read, as exec: they authorize each
		// follower (agent:read).
		http.Error(w, `{"error":"this node agent serves its log only over mutual TLS (a node CA) or on a loopback address"}`, http.StatusForbidden)
		return
	}
	if a.cfg.Logs == nil {
		http.Error(w, `{"error":"this agent does not stream its log: read its standard error"}`, http.StatusNotImplemented)
		return
	}
	q := req.URL.Query()
	level, ok := logmon.ParseLevel(q.Get("log_level"))
	if !ok {
		b, _ := json.Marshal(map[string]string{"error": "Unknown log level: " + q.Get("log_level")})
		http.Error(w, string(b), http.StatusBadRequest)
		return
	}
	asJSON, _ := strconv.ParseBool(q.Get("log_json"))
	f, ok := a.cfg.Logs.Follow(level, asJSON)
	if !ok {
		http.Error(w, fmt.Sprintf(`{"error":"%d followers of this agent's log already: try again later"}`, logmon.MaxFollowers), http.StatusTooManyRequests)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush()
	}
	rc := http.NewResponseController(w)
	f.Pump(req.Context(), 10*time.Second, func(line []byte) error {
		if line == nil {
			// A heartbeat, an empty line (no log line is empty): the
			// server relaying it knows the agent is there.
			line = []byte("\n")
		}
		_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		_, err := w.Write(line)
		if err == nil && flusher != nil {
			flusher.Flush()
		}
		return err
	})
}
