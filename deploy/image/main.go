// Command image builds the sparcd container image without a Docker
// daemon, with go-containerregistry, and writes it as an OCI image layout
// tarball (load it with `podman load -i`, `skopeo copy oci-archive:...`,
// or `crane push`). The image is one layer on nothing: the static sparcd
// binary, the system's CA certificates, Go's time zone database, and
// passwd/group entries for the unprivileged user 65532 it runs as. There
// is no shell and no PostgreSQL in it: it needs DATABASE_URL.
//
// make image runs it; a separate module keeps go-containerregistry out of
// sparcd's own dependencies.
package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Where things are in the image.
const (
	BinaryPath   = "/usr/local/bin/sparcd"
	CACertsPath  = "/etc/ssl/certs/ca-certificates.crt"
	ZoneinfoPath = "/usr/share/zoneinfo.zip"
	// UID is the unprivileged user and group the image runs as (the
	// "nonroot" of distroless images).
	UID = 65532
)

// Options say what goes into the image.
type Options struct {
	Binary   string // a static (CGO_ENABLED=0) linux sparcd
	CACerts  string // PEM bundle, e.g. Debian's /etc/ssl/certs/ca-certificates.crt
	Zoneinfo string // Go's $GOROOT/lib/time/zoneinfo.zip
	Version  string
	Arch     string
	// Created stamps the image and its files; fixed, so that the same
	// inputs make the same image digest.
	Created time.Time
}

func main() {
	var o Options
	var out string
	flag.StringVar(&o.Binary, "binary", "", "static sparcd binary (CGO_ENABLED=0 go build ./cmd/sparcd)")
	flag.StringVar(&o.CACerts, "ca-certs", "/etc/ssl/certs/ca-certificates.crt", "CA certificate bundle to copy (Debian's ca-certificates)")
	flag.StringVar(&o.Zoneinfo, "zoneinfo", "", "time zone database to copy: $(go env GOROOT)/lib/time/zoneinfo.zip")
	flag.StringVar(&o.Version, "version", "dev", "image version label")
	flag.StringVar(&o.Arch, "arch", runtime.GOARCH, "architecture of the binary")
	flag.StringVar(&out, "out", "", "OCI image layout tarball to write")
	flag.Parse()
	if epoch, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64); err == nil {
		o.Created = time.Unix(epoch, 0).UTC()
	}
	if o.Binary == "" || o.Zoneinfo == "" || out == "" {
		fmt.Fprintln(os.Stderr, "usage: image --binary sparcd --zoneinfo zoneinfo.zip --out sparcd-image.tar [--version v]")
		os.Exit(2)
	}
	img, err := Build(o)
	if err == nil {
		err = WriteOCIArchive(img, "sparcd:"+o.Version, out)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
	d, _ := img.Digest()
	fmt.Printf("wrote %s (sparcd:%s, %s)\n", out, o.Version, d)
}

// Build makes the image.
func Build(o Options) (v1.Image, error) {
	root, err := rootfs(o)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(root)), nil },
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{
		Created: v1.Time{Time: o.Created}, CreatedBy: "deploy/image (go-containerregistry)", Comment: "sparcd " + o.Version}})
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Created = "linux", o.Arch, v1.Time{Time: o.Created}
	uid := strconv.Itoa(UID)
	cfg.Config = v1.Config{
		Entrypoint: []string{BinaryPath},
		User:       uid + ":" + uid,
		WorkingDir: "/home/nonroot",
		Env: []string{
			"PATH=/usr/local/bin",
			"ZONEINFO=" + ZoneinfoPath,
			// A container is reached from outside its network namespace.
			"SPARC_GRPC_ADDR=0.0.0.0:9090",
			"SPARC_HTTP_ADDR=0.0.0.0:8080",
			"SPARC_LOG_FORMAT=json",
		},
		ExposedPorts: map[string]struct{}{"8080/tcp": {}, "9090/tcp": {}},
		Labels: map[string]string{
			"org.opencontainers.image.title":   "sparcd",
			"org.opencontainers.image.version": o.Version,
			"org.opencontainers.image.source":  "https://github.com/sparc-network/sparc",
		},
	}
	return mutate.ConfigFile(img, cfg)
}

// rootfs is the layer: a tar of the image's files, in a fixed order with
// fixed times.
func rootfs(o Options) ([]byte, error) {
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return nil, fmt.Errorf("binary: %w", err)
	}
	certs, err := os.ReadFile(o.CACerts)
	if err != nil {
		return nil, fmt.Errorf("CA certificates: %w", err)
	}
	zone, err := os.ReadFile(o.Zoneinfo)
	if err != nil {
		return nil, fmt.Errorf("zoneinfo: %w", err)
	}
	type entry struct {
		mode     fs.FileMode
		uid      int
		contents []byte
	}
	dir := func(mode fs.FileMode, uid int) entry { return entry{mode: fs.ModeDir | mode, uid: uid} }
	files := map[string]entry{
		"etc/":                 dir(0o755, 0),
		"etc/ssl/":             dir(0o755, 0),
		"etc/ssl/certs/":       dir(0o755, 0),
		"home/":                dir(0o755, 0),
		"home/nonroot/":        dir(0o700, UID),
		"tmp/":                 dir(0o777|fs.ModeSticky, 0),
		"usr/":                 dir(0o755, 0),
		"usr/local/":           dir(0o755, 0),
		"usr/local/bin/":       dir(0o755, 0),
		"usr/share/":           dir(0o755, 0),
		BinaryPath[1:]:         {mode: 0o755, contents: bin},
		CACertsPath[1:]:        {mode: 0o644, contents: certs},
		ZoneinfoPath[1:]:       {mode: 0o644, contents: zone},
		"etc/passwd":           {mode: 0o644, contents: []byte(fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", UID, UID))},
		"etc/group":            {mode: 0o644, contents: []byte(fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", UID))},
		"etc/nsswitch.conf":    {mode: 0o644, contents: []byte("hosts: files dns\n")},
		"usr/share/sparcd.txt": {mode: 0o644, contents: []byte("sparcd " + o.Version + ": this image has no PostgreSQL; set DATABASE_URL (deploy/README.md)\n")},
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		e := files[n]
		h := &tar.Header{Name: n, Mode: int64(e.mode.Perm()), Uid: e.uid, Gid: e.uid, ModTime: o.Created, Format: tar.FormatPAX}
		if e.mode&fs.ModeSticky != 0 {
			h.Mode |= 0o1000
		}
		if e.mode.IsDir() {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.contents))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.contents); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteOCIArchive writes img, tagged ref, as a tarball of an OCI image
// layout directory.
func WriteOCIArchive(img v1.Image, ref, out string) error {
	dir, err := os.MkdirTemp("", "sparcd-oci-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref})); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(out), ".image-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		info, err := d.Info()
		if err != nil {
			return err
		}
		h, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		h.Name, h.ModTime, h.Uid, h.Gid, h.Uname, h.Gname = filepath.ToSlash(rel), time.Unix(0, 0), 0, 0, "", ""
		if d.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		src, err := os.Open(path)
		if err != nil {
			return err
		}
		_, err = io.Copy(tw, src)
		return errors.Join(err, src.Close())
	})
	if err = errors.Join(err, tw.Close(), f.Close()); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), out)
}
