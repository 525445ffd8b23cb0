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
	"strconv"
	"strings"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
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

// serveList lists a directory inside an allocation's directory.
func (a *Agent) serveList(w http.ResponseWriter, req *http.Request) {
	allocID := req.PathValue("alloc")
	if strings.ContainsAny(allocID, "/.") {
		http.Error(w, `{"error":"bad allocation ID"}`, http.StatusBadRequest)
		return
	}
	root := a.AllocDir(allocID)
	rel := filepath.Clean("/" + req.URL.Query().Get("path"))
	dir := filepath.Join(root, rel)
	// The path stays inside the allocation directory, links included.
	if resolved, err := filepath.EvalSymlinks(dir); err != nil || !strings.HasPrefix(resolved+"/", root+"/") {
		http.Error(w, fmt.Sprintf(`{"error":"no such directory %s in allocation %s"}`, rel, allocID), http.StatusNotFound)
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		http.Error(w, fmt.Sprintf(`{"error":"no such directory %s in allocation %s"}`, rel, allocID), http.StatusNotFound)
		return
	}
	out := make([]api.FileInfo, 0, len(entries))
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			continue
		}
		out = append(out, api.FileInfo{Name: e.Name(), IsDir: e.IsDir(), Size: fi.Size(), Mode: fi.Mode().String(), ModTime: fi.ModTime().UTC()})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}
