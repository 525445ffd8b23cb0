// Package artifact fetches a task's artifacts: a file from an http(s)://
// URL or a path on the node, its checksum verified, archives (tar,
// tar.gz, zip) unpacked unless the artifact's mode is "file".
//
// It is built on Go's standard library — net/http, archive/tar,
// archive/zip, compress/gzip and os.Root — rather than on a getter
// library: the standard library is maintained with security fixes by the
// Go team, adds no dependency, and os.Root confines every file written to
// the destination directory (a "../" entry, an absolute name or a symlink
// pointing outside is refused when it is opened, not by string checks
// alone), which is what makes unpacking safe against zip-slip. Every
// fetch is bounded in bytes, in unpacked bytes and files, and in time.
package artifact

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Limits bound one fetch. Zero fields take the defaults.
type Limits struct {
	// MaxBytes bounds the downloaded file (default 1 GiB).
	MaxBytes int64
	// MaxUnpacked bounds what an archive unpacks to (default 4 GiB) and
	// MaxFiles its entries (default 100,000).
	MaxUnpacked int64
	MaxFiles    int
	// Timeout bounds the whole fetch (default 30 minutes).
	Timeout time.Duration
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = 1 << 30
	}
	if l.MaxUnpacked <= 0 {
		l.MaxUnpacked = 4 << 30
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = 100_000
	}
	if l.Timeout <= 0 {
		l.Timeout = 30 * time.Minute
	}
	return l
}

// Spec is one artifact to fetch.
type Spec struct {
	Source string
	// Mode is "file" (save the file as Dest), "dir" or "any" (default:
	// unpack an archive into the directory Dest, save anything else in it
	// under its own name).
	Mode string
	// Checksum is "TYPE:HEX" (sha256, sha512, sha1, md5), checked before
	// anything is written to Dest.
	Checksum string
	// Archive overrides the archive kind guessed from the name: "tar",
	// "tar.gz", "tgz", "zip", or "false" to never unpack.
	Archive string
	Headers map[string]string
}

// Fetch fetches spec into dest, a path inside root.
func Fetch(ctx context.Context, spec Spec, root *os.Root, dest string, lim Limits) error {
	lim = lim.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, lim.Timeout)
	defer cancel()
	sum, err := parseChecksum(spec.Checksum)
	if err != nil {
		return err
	}
	tmp, name, err := download(ctx, spec, lim.MaxBytes)
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if sum != nil {
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if _, err := io.Copy(sum.h, tmp); err != nil {
			return fmt.Errorf("reading the download: %w", err)
		}
		if got := hex.EncodeToString(sum.h.Sum(nil)); got != sum.want {
			return fmt.Errorf("checksum mismatch: %s of %s is %s, the artifact's options say %s", sum.kind, spec.Source, got, sum.want)
		}
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	dest = path.Clean(filepath.ToSlash(dest))
	if spec.Mode == "file" {
		return writeFile(root, dest, tmp, 0o644, lim.MaxBytes)
	}
	kind := spec.Archive
	if kind == "" {
		kind = archiveKind(name)
	}
	if err := root.MkdirAll(dest, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dest, err)
	}
	u := &unpacker{root: root, dest: dest, lim: lim}
	switch kind {
	case "tar":
		return u.tar(tmp)
	case "tar.gz", "tgz":
		zr, err := gzip.NewReader(tmp)
		if err != nil {
			return fmt.Errorf("reading %s as gzip: %w", name, err)
		}
		return u.tar(zr)
	case "zip":
		st, err := tmp.Stat()
		if err != nil {
			return err
		}
		return u.zip(tmp, st.Size())
	}
	return writeFile(root, path.Join(dest, path.Base(name)), tmp, 0o644, lim.MaxBytes)
}

type checksum struct {
	kind, want string
	h          hash.Hash
}

func parseChecksum(s string) (*checksum, error) {
	if s == "" {
		return nil, nil
	}
	kind, want, ok := strings.Cut(s, ":")
	if !ok {
		return nil, fmt.Errorf("checksum %q is not TYPE:HEX (such as sha256:…)", s)
	}
	c := &checksum{kind: strings.ToLower(kind), want: strings.ToLower(want)}
	switch c.kind {
	case "sha256":
		c.h = sha256.New()
	case "sha512":
		c.h = sha512.New()
	case "sha1":
		c.h = sha1.New()
	case "md5":
		c.h = md5.New()
	default:
		return nil, fmt.Errorf("checksum type %q is not sha256, sha512, sha1 or md5", kind)
	}
	if _, err := hex.DecodeString(c.want); err != nil || len(c.want) != 2*c.h.Size() {
		return nil, fmt.Errorf("checksum %q is not %d hex digits of %s", want, 2*c.h.Size(), c.kind)
	}
	return c, nil
}

// archiveKind guesses an archive's kind from its name.
func archiveKind(name string) string {
	n := strings.ToLower(name)
	switch {
	case strings.HasSuffix(n, ".tar.gz"), strings.HasSuffix(n, ".tgz"):
		return "tar.gz"
	case strings.HasSuffix(n, ".tar"):
		return "tar"
	case strings.HasSuffix(n, ".zip"):
		return "zip"
	}
	return ""
}

// download copies the source into a temporary file, at most max bytes;
// it returns the file and the source's file name.
func download(ctx context.Context, spec Spec, max int64) (*os.File, string, error) {
	var body io.ReadCloser
	var name string
	u, err := url.Parse(spec.Source)
	switch {
	case err == nil && (u.Scheme == "http" || u.Scheme == "https"):
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, spec.Source, nil)
		if err != nil {
			return nil, "", err
		}
		for k, v := range spec.Headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, "", fmt.Errorf("fetching %s: %w", redact(u), err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, "", fmt.Errorf("fetching %s: %s", redact(u), resp.Status)
		}
		if resp.ContentLength > max {
			resp.Body.Close()
			return nil, "", fmt.Errorf("%s is %d bytes; artifacts are limited to %d", redact(u), resp.ContentLength, max)
		}
		body, name = resp.Body, path.Base(u.Path)
	case err == nil && u.Scheme == "file":
		f, err := os.Open(u.Path)
		if err != nil {
			return nil, "", fmt.Errorf("reading %s: %w", spec.Source, err)
		}
		body, name = f, filepath.Base(u.Path)
	case filepath.IsAbs(spec.Source):
		f, err := os.Open(spec.Source)
		if err != nil {
			return nil, "", fmt.Errorf("reading %s: %w", spec.Source, err)
		}
		body, name = f, filepath.Base(spec.Source)
	default:
		return nil, "", fmt.Errorf("artifact source %q is not an http(s):// URL, a file:// URL or an absolute path on the node", spec.Source)
	}
	defer body.Close()
	tmp, err := os.CreateTemp("", "nomadic-artifact-")
	if err != nil {
		return nil, "", err
	}
	n, err := io.Copy(tmp, io.LimitReader(body, max+1))
	if err == nil && n > max {
		err = fmt.Errorf("%s is larger than the limit of %d bytes", spec.Source, max)
	}
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, "", fmt.Errorf("downloading %s: %w", spec.Source, err)
	}
	if name == "" || name == "/" || name == "." {
		name = "artifact"
	}
	return tmp, name, nil
}

// redact leaves a URL's credentials out of messages.
func redact(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery = ""
	return c.String()
}

// writeFile writes r to name inside root, creating its directory.
func writeFile(root *os.Root, name string, r io.Reader, mode fs.FileMode, max int64) error {
	if dir := path.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", dir, err)
		}
	}
	f, err := root.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode.Perm())
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	n, err := io.Copy(f, io.LimitReader(r, max+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > max {
		err = fmt.Errorf("%s is larger than the limit of %d bytes", name, max)
	}
	return err
}

// unpacker writes an archive's entries under dest inside root.
type unpacker struct {
	root    *os.Root
	dest    string
	lim     Limits
	written int64
	files   int
}

// target is where an entry goes, or an error for a name that leaves the
// destination.
func (u *unpacker) target(name string) (string, error) {
	clean := path.Clean("/" + filepath.ToSlash(name))
	if strings.Contains(filepath.ToSlash(name), "../") || strings.HasSuffix(name, "..") || path.IsAbs(filepath.ToSlash(name)) {
		return "", fmt.Errorf("archive entry %q leaves the destination directory", name)
	}
	return path.Join(u.dest, clean[1:]), nil
}

func (u *unpacker) count(size int64) error {
	u.files++
	u.written += max(size, 0)
	if u.files > u.lim.MaxFiles {
		return fmt.Errorf("the archive holds more than %d entries", u.lim.MaxFiles)
	}
	if u.written > u.lim.MaxUnpacked {
		return fmt.Errorf("the archive unpacks to more than %d bytes", u.lim.MaxUnpacked)
	}
	return nil
}

// link checks a symlink's target: relative, and inside the destination
// once resolved from the link's directory.
func (u *unpacker) link(at, target string) error {
	t := filepath.ToSlash(target)
	if path.IsAbs(t) {
		return fmt.Errorf("archive entry %q links to an absolute path", at)
	}
	resolved := path.Join(path.Dir(at), t)
	if resolved != u.dest && !strings.HasPrefix(resolved, u.dest+"/") && u.dest != "." {
		return fmt.Errorf("archive entry %q links outside the destination directory", at)
	}
	if u.dest == "." && (resolved == ".." || strings.HasPrefix(resolved, "../")) {
		return fmt.Errorf("archive entry %q links outside the destination directory", at)
	}
	return nil
}

func (u *unpacker) tar(r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the archive: %w", err)
		}
		name, err := u.target(h.Name)
		if err != nil {
			return err
		}
		if err := u.count(h.Size); err != nil {
			return err
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := u.root.MkdirAll(name, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := writeFile(u.root, name, tr, fs.FileMode(h.Mode), u.lim.MaxUnpacked-u.written+h.Size); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := u.link(name, h.Linkname); err != nil {
				return err
			}
			if err := u.root.MkdirAll(path.Dir(name), 0o755); err != nil {
				return err
			}
			_ = u.root.Remove(name)
			if err := u.root.Symlink(h.Linkname, name); err != nil {
				return err
			}
		case tar.TypeLink:
			old, err := u.target(h.Linkname)
			if err != nil {
				return err
			}
			_ = u.root.Remove(name)
			if err := u.root.Link(old, name); err != nil {
				return err
			}
		default:
			// Devices, fifos and the like are not made in a task's
			// directory.
		}
	}
}

func (u *unpacker) zip(r io.ReaderAt, size int64) error {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return fmt.Errorf("reading the archive as zip: %w", err)
	}
	for _, f := range zr.File {
		name, err := u.target(f.Name)
		if err != nil {
			return err
		}
		if err := u.count(int64(f.UncompressedSize64)); err != nil {
			return err
		}
		mode := f.Mode()
		switch {
		case mode.IsDir():
			if err := u.root.MkdirAll(name, 0o755); err != nil {
				return err
			}
		case mode&fs.ModeSymlink != 0:
			rc, err := f.Open()
			if err != nil {
				return err
			}
			target, err := io.ReadAll(io.LimitReader(rc, 4096))
			rc.Close()
			if err != nil {
				return err
			}
			if err := u.link(name, string(target)); err != nil {
				return err
			}
			_ = u.root.Remove(name)
			if err := u.root.Symlink(string(target), name); err != nil {
				return err
			}
		case mode.IsRegular():
			rc, err := f.Open()
			if err != nil {
				return err
			}
			perm := mode.Perm()
			if perm == 0 {
				perm = 0o644
			}
			err = writeFile(u.root, name, rc, perm, int64(f.UncompressedSize64))
			rc.Close()
			if err != nil {
				return err
			}
		}
	}
	return nil
}
