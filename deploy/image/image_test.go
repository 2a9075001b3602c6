package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// Point 7 of issue 17: the image make image writes, read back from its
// OCI layout tarball: one static sparcd with the migrations embedded, run
// as user 65532, CA certificates and time zones beside it; the binary
// unpacked from its layer answers --version with the version built in.
func TestImageRunsVersion(t *testing.T) {
	tmp := t.TempDir()
	const version = "v0.0.0-imagetest"
	bin := filepath.Join(tmp, "sparcd")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+version, "-o", bin, "./cmd/sparcd")
	build.Dir = "../.."
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatal(err)
	}
	img, err := Build(Options{Binary: bin, CACerts: "/etc/ssl/certs/ca-certificates.crt",
		Zoneinfo: filepath.Join(strings.TrimSpace(string(goroot)), "lib/time/zoneinfo.zip"), Version: version, Arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(tmp, "sparcd-image.tar")
	if err := WriteOCIArchive(img, "sparcd:"+version, archive); err != nil {
		t.Fatal(err)
	}

	// Read it back as a consumer would: untar the layout, open its index.
	dir := filepath.Join(tmp, "oci")
	untar(t, archive, dir, nil)
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("not an OCI image layout: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 1 || im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "sparcd:"+version {
		t.Fatalf("index: %+v %v", im, err)
	}
	got, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := got.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Config.User != "65532:65532" || len(cfg.Config.Entrypoint) != 1 || cfg.Config.Entrypoint[0] != BinaryPath || cfg.OS != "linux" {
		t.Fatalf("config: user %q entrypoint %q os %q", cfg.Config.User, cfg.Config.Entrypoint, cfg.OS)
	}
	layers, err := got.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d %v", len(layers), err)
	}

	// Unpack the filesystem and run the binary from it.
	rootDir := filepath.Join(tmp, "rootfs")
	files := map[string]*tar.Header{}
	fsTar := mutate.Extract(got)
	defer fsTar.Close()
	untarReader(t, fsTar, rootDir, files)
	for _, p := range []string{BinaryPath, CACertsPath, ZoneinfoPath, "/etc/passwd", "/tmp"} {
		if files[strings.TrimPrefix(p, "/")] == nil {
			t.Errorf("%s missing from the image", p)
		}
	}
	if len(files) > 20 {
		t.Errorf("the image holds %d files: it should be the binary, certificates and time zones only", len(files))
	}
	if h := files["home/nonroot"]; h == nil || h.Uid != 65532 {
		t.Errorf("home/nonroot not owned by 65532: %+v", h)
	}
	passwd, _ := os.ReadFile(filepath.Join(rootDir, "etc/passwd"))
	if !strings.Contains(string(passwd), "nonroot:x:65532:65532:") {
		t.Errorf("/etc/passwd has no nonroot user: %s", passwd)
	}
	sparcd := filepath.Join(rootDir, BinaryPath)
	f, err := elf.Open(sparcd)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("sparcd in the image is dynamically linked (has an ELF interpreter): build it with CGO_ENABLED=0")
		}
	}
	f.Close()
	raw, err := os.ReadFile(sparcd)
	if err != nil {
		t.Fatal(err)
	}
	// From migration 0002: the migrations travel inside the binary.
	if !bytes.Contains(raw, []byte("CREATE ROLE sparc_app NOLOGIN NOINHERIT")) {
		t.Error("the migrations are not embedded in the binary")
	}
	out, err := exec.Command(sparcd, "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "sparcd "+version+" ") {
		t.Fatalf("sparcd --version from the image: %v %q", err, out)
	}
	t.Logf("%s", bytes.TrimSpace(out))
}

func untar(t *testing.T, archive, dir string, files map[string]*tar.Header) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	untarReader(t, f, dir, files)
}

// untarReader unpacks regular files and directories (all an image of
// ours holds), refusing names that climb out of dir.
func untarReader(t *testing.T, r io.Reader, dir string, files map[string]*tar.Header) {
	t.Helper()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if files != nil {
			files[strings.TrimSuffix(strings.TrimPrefix(h.Name, "/"), "/")] = h
		}
		p := filepath.Join(dir, h.Name)
		if !strings.HasPrefix(p, filepath.Clean(dir)+string(os.PathSeparator)) {
			t.Fatalf("tar entry %q escapes the directory", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o755)
		case tar.TypeReg:
			if err = os.MkdirAll(filepath.Dir(p), 0o755); err == nil {
				var b []byte
				if b, err = io.ReadAll(tr); err == nil {
					err = os.WriteFile(p, b, h.FileInfo().Mode().Perm()|0o200)
				}
			}
		default:
			t.Fatalf("unexpected tar entry %q type %c", h.Name, h.Typeflag)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}
