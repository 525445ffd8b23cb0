package nomadapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// Nomad's allocation file system API (`nomad alloc fs`), served from the
// node agent that has the allocation, through this server, as the logs
// are. A task's secrets directory is listed but not read.

// AllocFileInfo is a file of an allocation directory as Nomad describes
// it.
type AllocFileInfo struct {
	Name        string
	IsDir       bool
	Size        int64
	FileMode    string
	ModTime     time.Time
	ContentType string
}

func toAllocFileInfo(fi api.FileInfo) *AllocFileInfo {
	return &AllocFileInfo{Name: fi.Name, IsDir: fi.IsDir, Size: fi.Size, FileMode: fi.Mode, ModTime: fi.ModTime}
}

// fsNode finds the allocation of the request and asks its node for
// nodePath (the node's route, the allocation ID appended) with q.
func (s *Server) fsNode(r *http.Request, nodePath string, q url.Values) (*http.Response, error) {
	a, node, err := s.allocNode(r, r.PathValue("alloc"))
	if err != nil {
		return nil, err
	}
	return s.nodeGet(r, node, nodePath+url.PathEscape(a.ID), q)
}

// fsPath is the path query of a request ("/" when absent).
func fsPath(r *http.Request) string {
	if p := r.URL.Query().Get("path"); p != "" {
		return p
	}
	return "/"
}

func (s *Server) fsList(w http.ResponseWriter, r *http.Request) error {
	resp, err := s.fsNode(r, "/v1/client/ls/", url.Values{"path": {fsPath(r)}})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var files []api.FileInfo
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&files); err != nil {
		return &httpError{code: http.StatusBadGateway, msg: "the node's file list: " + err.Error()}
	}
	out := make([]*AllocFileInfo, 0, len(files))
	for _, f := range files {
		out = append(out, toAllocFileInfo(f))
	}
	return s.reply(w, r, out)
}

func (s *Server) fsStat(w http.ResponseWriter, r *http.Request) error {
	resp, err := s.fsNode(r, "/v1/client/stat/", url.Values{"path": {fsPath(r)}})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var fi api.FileInfo
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&fi); err != nil {
		return &httpError{code: http.StatusBadGateway, msg: "the node's file information: " + err.Error()}
	}
	return s.reply(w, r, toAllocFileInfo(fi))
}

// fsCat sends a file as it is; readat a part of it (offset, limit: 0 or
// less is to the end).
func (s *Server) fsCat(readAt bool) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		nq := url.Values{"path": {fsPath(r)}}
		if readAt {
			q := r.URL.Query()
			offset, err := strconv.ParseInt(q.Get("offset"), 10, 64)
			if err != nil || offset < 0 {
				return badRequest("offset %q must be a number of bytes", q.Get("offset"))
			}
			limit, err := strconv.ParseInt(q.Get("limit"), 10, 64)
			if err != nil {
				return badRequest("limit %q must be a number of bytes", q.Get("limit"))
			}
			nq.Set("offset", strconv.FormatInt(offset, 10))
			if limit > 0 {
				nq.Set("limit", strconv.FormatInt(limit, 10))
			}
		}
		resp, err := s.fsNode(r, "/v1/client/cat/", nq)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", "application/octet-stream")
		w.WriteHeader(http.StatusOK)
		_, _ = io.Copy(w, resp.Body)
		return nil
	}
}

// fsStream follows a file in Nomad's framed form, from offset (from its
// end with origin=end), until the client goes: `nomad alloc fs -f`.
func (s *Server) fsStream(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var offset int64
	if v := q.Get("offset"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return badRequest("offset %q is not a number of bytes", v)
		}
		offset = n
	}
	origin := q.Get("origin")
	if origin == "" {
		origin = "start"
	}
	if origin != "start" && origin != "end" {
		return badRequest("origin must be start or end")
	}
	p := fsPath(r)
	resp, err := s.fsNode(r, "/v1/client/cat/", url.Values{"path": {p}, "offset": {strconv.FormatInt(offset, 10)}, "origin": {origin}, "follow": {"true"}})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	startFrames(w)
	ctx, cancel := s.streamCtx(r)
	defer cancel()
	return streamFrames(ctx, w, resp.Body, path.Clean("/" + p)[1:], 0, true)
}
