package main

// The commands besides serving: sparcd backup, sparcd restore and
// sparcd --version. See docs/operations-backup.md.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/sparc-network/sparc/internal/pgcluster"
)

// subcommand runs the command args name, if it is one of these, and
// returns its exit code.
func subcommand(args []string) (code int, ok bool) {
	if len(args) == 0 {
		return 0, false
	}
	var run func([]string, io.Writer) error
	switch args[0] {
	case "--version", "-version", "version":
		fmt.Println(versionString())
		return 0, true
	case "backup":
		run = backup
	case "restore":
		run = restore
	default:
		return 0, false
	}
	if err := run(args[1:], os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "sparcd %s: %v\n", args[0], err)
		}
		return 2, true
	}
	return 0, true
}

// dbFlags are the flags saying where the database is, as sparcd serving
// reads them.
type dbFlags struct{ dataDir, databaseURL, pgBin, dataKey string }

func (f *dbFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.dataDir, "data-dir", env("SPARC_DATA_DIR", ".sparc"), "embedded database directory (env SPARC_DATA_DIR)")
	fs.StringVar(&f.databaseURL, "database-url", env("DATABASE_URL", ""), "PostgreSQL URL of an external database (env DATABASE_URL)")
	fs.StringVar(&f.pgBin, "pg-bin", env("SPARC_PG_BIN", pgcluster.DefaultBinDir), "PostgreSQL binaries: pg_dump, pg_restore, and the server for the embedded database (env SPARC_PG_BIN)")
	fs.StringVar(&f.dataKey, "data-key", env("SPARC_DATA_KEY", ""), "base64 32-byte data key, when not kept in the data dir (env SPARC_DATA_KEY)")
}

// parseCommand parses the flags of backup or restore: where the database
// is, the archive (fileFlag, required) and the key file (keyFlag).
func parseCommand(name string, args []string, out io.Writer, fileFlag, fileUsage, keyFlag, keyUsage, usage string) (f dbFlags, file, keyFile string, err error) {
	fs := flag.NewFlagSet("sparcd "+name, flag.ContinueOnError)
	fs.SetOutput(out)
	f.register(fs)
	fs.StringVar(&file, fileFlag, "", fileUsage)
	fs.StringVar(&keyFile, keyFlag, "", keyUsage)
	if err := fs.Parse(args); err != nil {
		return f, "", "", err
	}
	if file == "" || fs.NArg() > 0 {
		return f, "", "", fmt.Errorf("usage: sparcd %s %s", name, usage)
	}
	return f, file, keyFile, nil
}

// backup writes a pg_dump custom-format archive of the database, taken
// from one snapshot while sparcd serves. The data key that seals contact
// details and NHS numbers is never in the archive: with --key-to it is
// copied to a file of its own, to be kept apart from the archive.
func backup(args []string, out io.Writer) error {
	f, to, keyTo, err := parseCommand("backup", args, out,
		"to", "write the archive to this file (replaced atomically; mode 0600)",
		"key-to", "embedded database only: also copy the data key to this new file (mode 0600); keep it apart from the archive",
		"--to FILE [--key-to KEYFILE]")
	if err != nil {
		return err
	}
	if keyTo != "" && f.databaseURL != "" {
		return errors.New("--key-to is for the embedded database, whose key sparcd keeps; with DATABASE_URL the key is SPARC_DATA_KEY, in your secret store")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err = writeAtomically(to, func(w io.Writer) error {
		if f.databaseURL != "" {
			return pgcluster.DumpURL(ctx, f.pgBin, f.databaseURL, w)
		}
		return pgcluster.Dump(ctx, pgcluster.Options{Dir: f.dataDir, BinDir: f.pgBin, Database: "sparc"}, w)
	})
	if err != nil {
		return err
	}
	st, err := os.Stat(to)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "backup written: %s (%d bytes)\n", to, st.Size())
	keyFile := filepath.Join(f.dataDir, "data-key")
	switch {
	case keyTo != "":
		b, err := os.ReadFile(keyFile)
		if err != nil {
			return fmt.Errorf("reading the data key: %w", err)
		}
		if err := writeNew(keyTo, b); err != nil {
			return err
		}
		fmt.Fprintf(out, "data key copied to %s: store it apart from the archive; whoever holds both can read contact details and NHS numbers\n", keyTo)
	case f.databaseURL != "" || f.dataKey != "":
		fmt.Fprintln(out, "the data key (SPARC_DATA_KEY) is not in the archive: restoring needs it")
	default:
		fmt.Fprintf(out, "the data key is not in the archive: keep a copy of %s apart from it (or rerun with --key-to); restoring needs it\n", keyFile)
	}
	return nil
}

// restore creates the embedded database in an empty data dir from an
// archive. It needs the key the archive's sealed fields were sealed with,
// which backups leave out: --key-from (written into the data dir) or
// SPARC_DATA_KEY (which sparcd must then be given).
func restore(args []string, out io.Writer) error {
	f, from, keyFrom, err := parseCommand("restore", args, out,
		"from", "archive written by sparcd backup",
		"key-from", "file holding the data key of the backed-up database (its data dir's data-key, or the --key-to copy)",
		"--from FILE --data-dir EMPTY_DIR (--key-from KEYFILE | SPARC_DATA_KEY=...)")
	if err != nil {
		return err
	}
	if f.databaseURL != "" {
		return errors.New("restore creates an embedded database; for an external one use pg_restore (docs/operations-backup.md), or unset DATABASE_URL")
	}
	var key []byte
	switch {
	case keyFrom != "":
		b, err := os.ReadFile(keyFrom)
		if err != nil {
			return fmt.Errorf("--key-from: %w", err)
		}
		if _, err := dataKey(config{dataKey: strings.TrimSpace(string(b))}); err != nil {
			return fmt.Errorf("--key-from %s: %w", keyFrom, err)
		}
		key = b
	case f.dataKey != "":
		if _, err := dataKey(config{dataKey: f.dataKey}); err != nil {
			return err
		}
	default:
		return errors.New("the archive's contact details and NHS numbers are sealed with a data key that backups leave out: give --key-from KEYFILE or SPARC_DATA_KEY")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := pgcluster.Restore(ctx, pgcluster.Options{Dir: f.dataDir, BinDir: f.pgBin, Database: "sparc"}, from); err != nil {
		return err
	}
	if key != nil {
		if err := writeNew(filepath.Join(f.dataDir, "data-key"), key); err != nil {
			return err
		}
		fmt.Fprintf(out, "restored %s into %s with its data key\n", from, f.dataDir)
	} else {
		fmt.Fprintf(out, "restored %s into %s; start sparcd with the same SPARC_DATA_KEY\n", from, f.dataDir)
	}
	return nil
}

// writeAtomically writes path through a temporary file beside it, so a
// failed or interrupted backup never replaces a good one.
func writeAtomically(path string, write func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".partial-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := write(tmp); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// writeNew writes a secret to a file that must not exist yet.
func writeNew(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	return errors.Join(err, f.Sync(), f.Close())
}
