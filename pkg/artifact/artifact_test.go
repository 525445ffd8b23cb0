package artifact

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type entry struct {
	name, body, link string
	dir              bool
}

func tarGz(t *testing.T, entries []entry) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg}
		switch {
		case e.dir:
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		case e.link != "":
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, e.link, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func zipOf(t *testing.T, entries []entry) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		w, err := zw.Create(e.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(e.body))
	}
	zw.Close()
	return buf.Bytes()
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func TestFetchingArtifacts(t *testing.T) {
	good := tarGz(t, []entry{{name: "app/", dir: true}, {name: "app/run.sh", body: "echo hi"}, {name: "app/cur", link: "run.sh"}})
	files := map[string][]byte{
		"/app.tar.gz":  good,
		"/slip.tar.gz": tarGz(t, []entry{{name: "../../evil", body: "x"}}),
		"/abs.tar.gz":  tarGz(t, []entry{{name: "/etc/evil", body: "x"}}),
		"/out.tar.gz":  tarGz(t, []entry{{name: "l", link: "../../etc/passwd"}}),
		"/site.zip":    zipOf(t, []entry{{name: "index.html", body: "<h1>hi</h1>"}, {name: "css/a.css", body: "a"}}),
		"/slip.zip":    zipOf(t, []entry{{name: "../evil", body: "x"}}),
		"/plain.txt":   []byte("plain"),
	}
	var gotHeader string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotHeader = r.Header.Get("X-Token")
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	defer srv.Close()
	local := filepath.Join(t.TempDir(), "local.tar.gz")
	os.WriteFile(local, good, 0o644)

	cases := []struct {
		name  string
		spec  Spec
		dest  string
		check string // a file that must then exist with this body ("path=body")
		err   string
	}{
		{"a tar.gz is unpacked and its checksum checked", Spec{Source: srv.URL + "/app.tar.gz", Checksum: sha(good)}, "local", "local/app/run.sh=echo hi", ""},
		{"a symlink inside the destination is kept", Spec{Source: srv.URL + "/app.tar.gz"}, "local", "local/app/cur=echo hi", ""},
		{"a local path is fetched", Spec{Source: local}, "local/x", "local/x/app/run.sh=echo hi", ""},
		{"a zip is unpacked", Spec{Source: srv.URL + "/site.zip"}, "local/www", "local/www/css/a.css=a", ""},
		{"mode file keeps the archive as it is", Spec{Source: srv.URL + "/site.zip", Mode: "file"}, "local/site.zip", "", ""},
		{"a plain file lands under its name", Spec{Source: srv.URL + "/plain.txt", Headers: map[string]string{"X-Token": "t"}}, "local", "local/plain.txt=plain", ""},
		{"a bad checksum fails before anything is written", Spec{Source: srv.URL + "/app.tar.gz", Checksum: "sha256:" + strings.Repeat("0", 64)}, "local/bad", "", "checksum mismatch"},
		{"a malformed checksum is refused", Spec{Source: srv.URL + "/app.tar.gz", Checksum: "sha256:xyz"}, "local", "", "is not 64 hex digits"},
		{"a tar entry climbing out is refused", Spec{Source: srv.URL + "/slip.tar.gz"}, "local", "", "leaves the destination"},
		{"an absolute tar entry is refused", Spec{Source: srv.URL + "/abs.tar.gz"}, "local", "", "leaves the destination"},
		{"a symlink out is refused", Spec{Source: srv.URL + "/out.tar.gz"}, "local", "", "links outside"},
		{"a zip entry climbing out is refused", Spec{Source: srv.URL + "/slip.zip"}, "local", "", "leaves the destination"},
		{"a destination outside the root is refused", Spec{Source: srv.URL + "/plain.txt"}, "../up", "", "path escapes"},
		{"a missing file fails with its status", Spec{Source: srv.URL + "/nope.tgz"}, "local", "", "404 Not Found"},
		{"a relative source is refused", Spec{Source: "app.tgz"}, "local", "", "not an http(s):// URL"},
		{"the size is bounded", Spec{Source: srv.URL + "/app.tar.gz"}, "local", "", "artifacts are limited to 10"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			root, err := os.OpenRoot(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer root.Close()
			lim := Limits{}
			if tc.name == "the size is bounded" {
				lim.MaxBytes = 10
			}
			err = Fetch(context.Background(), tc.spec, root, tc.dest, lim)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				if _, serr := os.Stat(filepath.Join(dir, "..", "evil")); serr == nil {
					t.Fatal("a file was written outside the root")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p, body, ok := strings.Cut(tc.check, "="); ok {
				b, err := os.ReadFile(filepath.Join(dir, p))
				if err != nil || string(b) != body {
					t.Fatalf("%s: %q %v", p, b, err)
				}
			}
			if tc.spec.Mode == "file" {
				if b, _ := os.ReadFile(filepath.Join(dir, tc.dest)); !bytes.Equal(b, files["/site.zip"]) {
					t.Fatal("mode file did not keep the archive")
				}
			}
			if tc.spec.Headers != nil && gotHeader != "t" {
				t.Fatalf("header not sent: %q", gotHeader)
			}
		})
	}
}
