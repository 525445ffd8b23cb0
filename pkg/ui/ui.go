package ui

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"sort"
	"strings"
)

//go:embed assets
var embedded embed.FS

// Prefix is the path the UI is served under.
const Prefix = "/ui/"

// file is one embedded file, read once.
type file struct {
	body []byte
	etag string
	mime string
}

var files = load()

func load() map[string]*file {
	root, err := fs.Sub(embedded, "assets")
	if err != nil {
		panic(err)
	}
	out := map[string]*file{}
	err = fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(root, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		typ := mime.TypeByExtension(path.Ext(p))
		if typ == "" {
			typ = "application/octet-stream"
		}
		out[p] = &file{body: b, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, mime: typ}
		return nil
	})
	if err != nil {
		panic(err)
	}
	return out
}

// Paths lists every path Handler answers: Prefix (the page) and each of
// its files. An API that requires tokens leaves these open: they hold no
// data, and the page asks for a token before it reads any.
func Paths() []string {
	out := []string{Prefix}
	for p := range files {
		if p != "index.html" {
			out = append(out, Prefix+p)
		}
	}
	sort.Strings(out)
	return out
}

// csp lets the page load only its own scripts and talk only to the
// server that served it.
const csp = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the UI under Prefix: the page at Prefix itself (its
// routes are in the URL's fragment, #/jobs, so deep links need no server
// side) and its files below it. Browsers revalidate every file (ETag), so
// a server upgrade is picked up on the next load.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, Prefix)
		if name == "" {
			name = "index.html"
		}
		f := files[name]
		if f == nil || name != path.Clean(name) {
			http.Error(w, "no such file in the UI: "+name, http.StatusNotFound)
			return
		}
		h := w.Header()
		h.Set("Content-Type", f.mime)
		h.Set("ETag", f.etag)
		h.Set("Cache-Control", "no-cache")
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if r.Header.Get("If-None-Match") == f.etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(f.body)
	})
}
